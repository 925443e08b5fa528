"""A segmentor's inference path as a function of tensors (for ONNX export and compilers)."""
from typing import Optional, Tuple

from mmseg.models.utils import resize
from torch import Tensor, nn

from ..models.segmentors import accepts_text, head_inputs, with_text
from ..models.structures import TextFeatures

__all__ = ['TEXT_INPUTS', 'SegmentorGraph']

#: Values of ``SegmentorGraph(text_input=...)``.
TEXT_INPUTS = ('tokens', 'features')


class SegmentorGraph(nn.Module):
    """A segmentor's inference path as a function of tensors: image and caption in, mask
    logits and probabilities out.

    It runs what ``model.test_step`` runs in whole-image mode between the data preprocessor
    and MMSeg's post-processing, with the caption given as tensors instead of strings: the
    text encoder (``encode_tokens``, only with ``text_input='tokens'``), the backbone, the
    neck and the decode head's ``forward`` (with the text features where they read them),
    then the logits resized (bilinear) to the image size as the decode head's ``predict``
    does. The probabilities are what MMSeg's evaluation thresholds: the sigmoid of a
    one-channel head (mask = probs > the head's ``threshold``, 0.5), else a softmax over the
    K classes. The auxiliary heads and RecLMIS's interest weights do not run.

    The model is used as it is (not copied): fold it first with
    :func:`~vlseg.apis.fold_conv_bn` for a faster graph.

    Args:
        model: A segmentor (``EncoderDecoder`` or
            :class:`~vlseg.models.segmentors.TextGuidedEncoderDecoder`) in eval mode.
        text_input: ``'tokens'``: the caption comes as token ids and padding mask
            (``model.text_encoder.tokenize``) and the text encoder runs inside;
            ``'features'``: it comes as the text encoder's output, so that the text tower can
            run once per caption elsewhere. Unused by a text-free model.
        normalize: Apply the data preprocessor's channel swap (``bgr_to_rgb``) and its mean and
            std inside, so that ``image`` is the image as the test pipeline gives it (float,
            0-255, in the loader's channel order: BGR for ``cv2``-loaded files) at the network
            input size. With False, ``image`` is the data preprocessor's output.

    Shapes:
        image: (B, 3, H, W) float32.
        text: (B, L) int64 token ids (``'tokens'``) or (B, L, C) float32 features
            (``'features'``); None for a text-free model.
        pad_mask: (B, L) bool, True at padding; None for a text-free model.
        output: ``(logits, probs)``, each (B, K, H, W) float32 (K = 1 for the binary heads).
    """

    def __init__(self, model: nn.Module, text_input: str = 'tokens',
                 normalize: bool = False) -> None:
        super().__init__()
        if text_input not in TEXT_INPUTS:
            raise ValueError(f'text_input must be one of {TEXT_INPUTS}, got {text_input!r}')
        if getattr(model, 'decode_head', None) is None or not hasattr(model, 'backbone'):
            raise ValueError(f'{type(model).__name__} is not an encoder-decoder segmentor '
                             '(no backbone or decode_head)')
        self.model = model
        self.text_input = text_input
        self.normalize = normalize
        self.has_text = getattr(model, 'text_encoder', None) is not None
        preprocessor = getattr(model, 'data_preprocessor', None)
        self.swap_channels = bool(getattr(preprocessor, 'channel_conversion', False))
        self.with_mean_std = bool(getattr(preprocessor, '_enable_normalize', False))
        if self.with_mean_std:
            self.register_buffer('mean', preprocessor.mean.detach().clone().view(1, -1, 1, 1),
                                 persistent=False)  # (1, 3, 1, 1)
            self.register_buffer('std', preprocessor.std.detach().clone().view(1, -1, 1, 1),
                                 persistent=False)  # (1, 3, 1, 1)

    @property
    def input_names(self) -> Tuple[str, ...]:
        """The names of the inputs, in order: ``image`` and, with a text encoder,
        ``token_ids`` or ``text_features``, then ``pad_mask``."""
        if not self.has_text:
            return ('image', )
        return ('image', 'token_ids' if self.text_input == 'tokens' else 'text_features',
                'pad_mask')

    def forward(self, image: Tensor, text: Optional[Tensor] = None,
                pad_mask: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        model = self.model
        x = image
        if self.normalize:
            if self.swap_channels:
                x = x.flip(1)  # (B, 3, H, W), BGR <-> RGB
            if self.with_mean_std:
                x = (x - self.mean) / self.std
        features = None
        if self.has_text:
            if text is None or pad_mask is None:
                raise ValueError('SegmentorGraph: a text-guided model needs text and pad_mask')
            if self.text_input == 'tokens':
                text = model.text_encoder.encode_tokens(text, pad_mask)  # (B, L, C)
            features = TextFeatures(text, pad_mask)
        feats = (model.backbone(x, features) if accepts_text(model.backbone)
                 else model.backbone(x))
        if model.with_neck:
            feats = model.neck(feats, features) if accepts_text(model.neck) else model.neck(feats)
        head = model.decode_head
        if features is not None and accepts_text(head):
            feats = with_text(feats, features)
        logits = head.forward(head_inputs(head, feats))  # (B, K, h, w)
        logits = resize(logits, size=tuple(image.shape[2:]), mode='bilinear',
                        align_corners=head.align_corners)  # (B, K, H, W)
        probs = logits.sigmoid() if logits.shape[1] == 1 else logits.softmax(dim=1)
        return logits, probs
