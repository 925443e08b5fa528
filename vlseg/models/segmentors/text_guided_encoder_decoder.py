"""Encoder-decoder segmentor that carries each sample's caption to the model."""
from typing import List, Optional, Sequence, Tuple

from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType, OptSampleList, SampleList
from torch import Tensor, nn

__all__ = ['TextGuidedEncoderDecoder', 'accepts_text']

TextFeatures = Tuple[Tensor, Tensor]  # (B, L, C) features, (B, L) bool pad_mask


def accepts_text(module: Optional[nn.Module]) -> bool:
    """Whether ``module`` declares ``accepts_text = True`` (takes the text features)."""
    return bool(getattr(module, 'accepts_text', False))


@MODELS.register_module()
class TextGuidedEncoderDecoder(EncoderDecoder):
    """MMSeg :class:`EncoderDecoder` with a text encoder.

    The caption of every sample travels in its metainfo (``PackSegInputs`` with ``'text'``
    in ``meta_keys``). :meth:`extract_feat` encodes the captions once per batch and hands
    the text features ``(feats (B, L, C), pad_mask (B, L))`` to the backbone and the neck
    when they declare ``accepts_text = True``. Decode and auxiliary heads run as in
    :class:`EncoderDecoder`: auxiliary heads only in :meth:`loss`, never in ``predict`` or
    ``tensor`` mode. Without a text encoder it is a plain encoder-decoder.

    Args:
        text_encoder: Config of a text encoder mapping a list of captions to
            ``(feats, pad_mask)``, e.g. ``dict(type='OpenCLIPTextEncoder')``.
        Others: as :class:`EncoderDecoder`.
    """

    def __init__(self, backbone: ConfigType, decode_head: ConfigType,
                 text_encoder: OptConfigType = None, neck: OptConfigType = None,
                 auxiliary_head: OptConfigType = None, train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None, data_preprocessor: OptConfigType = None,
                 pretrained: Optional[str] = None, init_cfg=None) -> None:
        super().__init__(backbone=backbone, decode_head=decode_head, neck=neck,
                         auxiliary_head=auxiliary_head, train_cfg=train_cfg,
                         test_cfg=test_cfg, data_preprocessor=data_preprocessor,
                         pretrained=pretrained, init_cfg=init_cfg)
        self.text_encoder = MODELS.build(text_encoder) if text_encoder is not None else None
        needs_text = [name for name in ('backbone', 'neck')
                      if accepts_text(getattr(self, name, None))]
        if needs_text and self.text_encoder is None:
            raise ValueError(f'{", ".join(needs_text)} accepts text but no text_encoder is '
                             'configured')

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
        return self.text_encoder(texts)

    def extract_feat(self, inputs: Tensor,
                     batch_img_metas: Optional[Sequence[dict]] = None) -> List[Tensor]:
        text = None
        if self.text_encoder is not None:
            if batch_img_metas is None:
                raise ValueError('a text-guided model needs batch_img_metas with captions')
            text = self.encode_text(batch_img_metas)
        x = self.backbone(inputs, text) if accepts_text(self.backbone) else self.backbone(inputs)
        if self.with_neck:
            x = self.neck(x, text) if accepts_text(self.neck) else self.neck(x)
        return x

    def encode_decode(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        x = self.extract_feat(inputs, batch_img_metas)
        return self.decode_head.predict(x, batch_img_metas, self.test_cfg)

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        x = self.extract_feat(inputs, [s.metainfo for s in data_samples])
        losses = self._decode_head_forward_train(x, data_samples)
        if self.with_auxiliary_head:
            losses.update(self._auxiliary_head_forward_train(x, data_samples))
        return losses

    def _forward(self, inputs: Tensor, data_samples: OptSampleList = None) -> Tensor:
        metas = None if data_samples is None else [s.metainfo for s in data_samples]
        return self.decode_head.forward(self.extract_feat(inputs, metas))
