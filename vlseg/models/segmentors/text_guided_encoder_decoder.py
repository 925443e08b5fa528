"""Encoder-decoder segmentor that carries each sample's caption to the model."""
from typing import List, Optional, Sequence, Union

import torch
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType, OptSampleList, SampleList, add_prefix
from torch import Tensor, nn

from ..structures import DecoderOutput, FeatureMaps, TextFeatureMaps, TextFeatures

__all__ = ['TextGuidedEncoderDecoder', 'accepts_text', 'head_inputs', 'with_text']

Features = Union[FeatureMaps, Sequence[Tensor]]


def accepts_text(module: Optional[nn.Module]) -> bool:
    """Whether ``module`` declares ``accepts_text = True`` (takes :class:`TextFeatures`)."""
    return bool(getattr(module, 'accepts_text', False))


def with_text(feats: Features, text: TextFeatures) -> TextFeatureMaps:
    """The maps with the text, for a decode head that declares ``accepts_text = True``.

    ``feats`` is returned as it is when it already carries the text (a
    :class:`TextFeatureMaps`, e.g. the :class:`LanguageFeatures` of ``LanguageSwin``); otherwise
    its maps are wrapped with ``text`` in a plain :class:`TextFeatureMaps`.
    """
    if isinstance(feats, TextFeatureMaps):
        return feats
    maps = feats.maps if isinstance(feats, FeatureMaps) else tuple(feats)
    return TextFeatureMaps(maps=maps, text=text)


def head_inputs(head: nn.Module, feats: Features,
                decoded: Optional[DecoderOutput] = None) -> Union[FeatureMaps, DecoderOutput,
                                                                  List[Tensor]]:
    """What ``head`` reads (docs/architecture.md#module-contracts).

    A head whose ``input_type`` names a container gets that container: ``decoded`` for
    :class:`DecoderOutput`, else ``feats``. Any other head (e.g. a stock MMSeg head) gets the
    maps alone.

    Raises:
        ValueError: The head names a container that it is not given.
    """
    wanted = getattr(head, 'input_type', None)
    if wanted is None:
        return list(feats.maps) if isinstance(feats, FeatureMaps) else feats
    given = decoded if wanted is DecoderOutput else feats
    if not isinstance(given, wanted):
        raise ValueError(f'{type(head).__name__} reads {wanted.__name__}, but the model gives '
                         f'{type(given).__name__}: check the backbone / neck / decode head it is '
                         'combined with')
    return given


@MODELS.register_module()
class TextGuidedEncoderDecoder(EncoderDecoder):
    """MMSeg :class:`EncoderDecoder` with a text encoder.

    The caption of every sample travels in its metainfo (``PackSegInputs`` with ``'text'``
    in ``meta_keys``). :meth:`extract_feat` encodes the captions once per batch and hands
    the :class:`~vlseg.models.structures.TextFeatures` to the backbone and the neck when they
    declare ``accepts_text = True``. Heads receive what :func:`head_inputs` gives them. In
    :meth:`loss` the decode head runs once; when it has ``decode()``, its
    :class:`~vlseg.models.structures.DecoderOutput` goes to the auxiliary heads that read it.
    Auxiliary heads run only in :meth:`loss`, never in ``predict`` or ``tensor`` mode. Without
    a text encoder it is a plain encoder-decoder.

    Args:
        text_encoder: Config of a text encoder mapping a list of captions to
            :class:`~vlseg.models.structures.TextFeatures`, e.g.
            ``dict(type='OpenCLIPTextEncoder')``.
        channels_last: Keep the 4-D weights and the image batch in channels-last memory
            format, so that the convolutions run on it (the same maths, other rounding; on
            CPU the narrow high-resolution convolutions of the 2-core configs take about half
            the time: docs/benchmarks.md#channels-last). Checkpoints load into either format.
        Others: as :class:`EncoderDecoder`.
    """

    def __init__(self, backbone: ConfigType, decode_head: ConfigType,
                 text_encoder: OptConfigType = None, neck: OptConfigType = None,
                 auxiliary_head: OptConfigType = None, train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None, data_preprocessor: OptConfigType = None,
                 pretrained: Optional[str] = None, init_cfg=None,
                 channels_last: bool = False) -> None:
        super().__init__(backbone=backbone, decode_head=decode_head, neck=neck,
                         auxiliary_head=auxiliary_head, train_cfg=train_cfg,
                         test_cfg=test_cfg, data_preprocessor=data_preprocessor,
                         pretrained=pretrained, init_cfg=init_cfg)
        self.text_encoder = MODELS.build(text_encoder) if text_encoder is not None else None
        self.channels_last = bool(channels_last)
        if self.channels_last:
            self.to(memory_format=torch.channels_last)
        needs_text = [name for name in ('backbone', 'neck', 'decode_head')
                      if accepts_text(getattr(self, name, None))]
        if needs_text and self.text_encoder is None:
            raise ValueError(f'{", ".join(needs_text)} accepts text but no text_encoder is '
                             'configured')
        needs_decoder = [type(head).__name__ for head in self._auxiliary_heads()
                         if getattr(head, 'input_type', None) is DecoderOutput]
        if needs_decoder and not hasattr(self.decode_head, 'decode'):
            raise ValueError(f'{", ".join(needs_decoder)} read the decode head\'s maps, but '
                             f'{type(self.decode_head).__name__} has no decode() (DMMIHead has)')

    def _auxiliary_heads(self) -> List[nn.Module]:
        if not self.with_auxiliary_head:
            return []
        if isinstance(self.auxiliary_head, nn.ModuleList):
            return list(self.auxiliary_head)
        return [self.auxiliary_head]

    def encode_text(self, batch_img_metas: Sequence[dict]) -> Optional[TextFeatures]:
        """Encodes the ``text`` of each sample's metainfo; None without a text encoder."""
        if self.text_encoder is None:
            return None
        texts = []
        for i, meta in enumerate(batch_img_metas):
            if 'text' not in meta:
                raise KeyError(
                    f'sample {i} ({meta.get("img_path", "no img_path")}) has no "text" in its '
                    "metainfo: add 'text' to PackSegInputs(meta_keys=...)")
            texts.append(meta['text'])
        text = self.text_encoder(texts)
        if not isinstance(text, TextFeatures):
            raise TypeError(f'{type(self.text_encoder).__name__} returned '
                            f'{type(text).__name__}; a text encoder returns TextFeatures')
        return text

    def extract_feat(self, inputs: Tensor,
                     batch_img_metas: Optional[Sequence[dict]] = None) -> Features:
        text = None
        if self.text_encoder is not None:
            if batch_img_metas is None:
                raise ValueError('a text-guided model needs batch_img_metas with captions')
            text = self.encode_text(batch_img_metas)
        if self.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        x = self.backbone(inputs, text) if accepts_text(self.backbone) else self.backbone(inputs)
        if self.with_neck:
            x = self.neck(x, text) if accepts_text(self.neck) else self.neck(x)
        if text is not None and accepts_text(self.decode_head):
            x = with_text(x, text)
        return x

    def encode_decode(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        x = self.extract_feat(inputs, batch_img_metas)
        return self.decode_head.predict(head_inputs(self.decode_head, x), batch_img_metas,
                                        self.test_cfg)

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        x = self.extract_feat(inputs, [s.metainfo for s in data_samples])
        decode_in = head_inputs(self.decode_head, x)
        decoded = None
        if hasattr(self.decode_head, 'decode'):
            decoded = self.decode_head.decode(decode_in)
            loss = self.decode_head.loss_by_feat(decoded.logits, data_samples)
        else:
            loss = self.decode_head.loss(decode_in, data_samples, self.train_cfg)
        losses = add_prefix(loss, 'decode')
        for i, head in enumerate(self._auxiliary_heads()):
            loss = head.loss(head_inputs(head, x, decoded), data_samples, self.train_cfg)
            losses.update(add_prefix(loss, f'aux_{i}' if isinstance(self.auxiliary_head,
                                                                     nn.ModuleList) else 'aux'))
        return losses

    def _forward(self, inputs: Tensor, data_samples: OptSampleList = None) -> Tensor:
        metas = None if data_samples is None else [s.metainfo for s in data_samples]
        return self.decode_head.forward(head_inputs(self.decode_head,
                                                    self.extract_feat(inputs, metas)))
