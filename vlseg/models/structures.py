"""Typed containers that the parts of a text-guided segmentor pass to each other.

Each producer returns one frozen dataclass and each consumer reads named fields of it, so the
contract between two modules is written down here and nothing travels as an attribute bolted
onto a list. The containers are not sequences: ``list(x)`` or ``x[:2]`` raises instead of
silently dropping the extra fields.

Who gives what (docs/architecture.md#module-contracts):

- every text encoder -> :class:`TextFeatures`;
- a backbone or neck that declares ``accepts_text = True`` receives :class:`TextFeatures` as its
  second argument and returns either a list of maps or a :class:`FeatureMaps` subclass:
  :class:`InteractionFeatures` (RecLMIS's conditioned-interaction neck),
  :class:`LanguageFeatures` (the language Swin backbone of LAVT and DMMI) or
  :class:`AlignedFeatures` (TMCA's target-enhancement neck), all three
  :class:`TextFeatureMaps`, i.e. maps that carry the text;
- a decode head that declares ``accepts_text = True`` (GuideDecoder's) reads
  :class:`TextFeatureMaps`: the segmentor wraps the maps with the text when no backbone or neck
  gave them together;
- a decode or auxiliary head that names a container in ``input_type`` receives it whole; any
  other head (e.g. a stock MMSeg head) receives only its ``maps``;
- a decode head that has a ``decode(inputs)`` method returns :class:`DecoderOutput`, which
  carries its intermediate maps to the auxiliary heads whose ``input_type`` is
  :class:`DecoderOutput` (DMMI's training-only heads).
"""
from dataclasses import dataclass
from typing import Any, Optional, Tuple

from torch import Tensor

__all__ = ['AlignedFeatures', 'DecoderOutput', 'FeatureMaps', 'InteractionFeatures',
           'LanguageFeatures', 'TextFeatureMaps', 'TextFeatures']


@dataclass(frozen=True)
class TextFeatures:
    """What a text encoder returns for B captions.

    Attributes:
        feats: (B, L, C) per-token features.
        pad_mask: (B, L) bool, True at padding.
        masked_feats: (B, L, C) features of the entity-masked captions, or None. Only
            :class:`~vlseg.models.text_encoders.EntityMaskedTextEncoder` gives them, in training.
        masked_positions: (B, L) bool, True at the masked tokens, or None (as ``masked_feats``).
    """

    feats: Tensor
    pad_mask: Tensor
    masked_feats: Optional[Tensor] = None
    masked_positions: Optional[Tensor] = None

    def __post_init__(self) -> None:
        if self.feats.dim() != 3 or tuple(self.pad_mask.shape) != tuple(self.feats.shape[:2]):
            raise ValueError(f'TextFeatures: feats must be (B, L, C) and pad_mask (B, L), got '
                             f'{tuple(self.feats.shape)} and {tuple(self.pad_mask.shape)}')
        if (self.masked_feats is None) != (self.masked_positions is None):
            raise ValueError('TextFeatures: masked_feats and masked_positions come together')


@dataclass(frozen=True)
class FeatureMaps:
    """Multi-scale maps for the decode head; subclasses add what other heads read.

    Attributes:
        maps: (B, C_i, H_i, W_i) per level, shallowest first.
    """

    maps: Tuple[Tensor, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.maps, tuple):
            object.__setattr__(self, 'maps', tuple(self.maps))


@dataclass(frozen=True)
class TextFeatureMaps(FeatureMaps):
    """Multi-scale maps together with the text encoder's output.

    The base of every container that carries the text; a decode head with ``accepts_text =
    True`` (:class:`~vlseg.models.decode_heads.GuideDecoderHead`) reads it, whichever part
    produced it. :class:`~vlseg.models.segmentors.TextGuidedEncoderDecoder` builds a plain one
    (:func:`~vlseg.models.segmentors.with_text`) when the backbone and neck give only maps.

    Attributes:
        text: The text encoder's output.
    """

    text: TextFeatures


@dataclass(frozen=True)
class InteractionFeatures(TextFeatureMaps):
    """The output of :class:`~vlseg.models.necks.ConditionedInteractionNeck` (RecLMIS).

    ``maps`` holds the encoder maps with the deepest one replaced by the fused bottleneck. The
    other fields are (B, T, D) token tensors unless noted; the conditioned reconstruction and
    contrastive heads read them.

    Attributes:
        text: (inherited) The text encoder's output (RecLMIS: frozen CLIP, the target of the
            vision-to-text reconstruction).
        text_tokens: (B, L, D) the adapted text before the interaction.
        visual_tokens: (B, N, D) the bottleneck tokens before the interaction.
        fused_visual_tokens: (B, N, D) the bottleneck tokens after the interaction.
        updated_text: (B, L, D) the text after the interaction.
        word_weights: (B, L) words-of-interest weights W_woi; None outside training (unless
            the neck's ``weights_in_eval`` is set, as :func:`vlseg.apis.interest_weights` does).
        patch_weights: (B, N) patches-of-interest weights W_poi; None as ``word_weights``.
    """

    text_tokens: Tensor
    visual_tokens: Tensor
    fused_visual_tokens: Tensor
    updated_text: Tensor
    word_weights: Optional[Tensor]
    patch_weights: Optional[Tensor]


@dataclass(frozen=True)
class LanguageFeatures(TextFeatureMaps):
    """The output of :class:`~vlseg.models.backbones.LanguageSwin` (LAVT, DMMI).

    Attributes:
        text: (inherited) The text encoder's output, with the entity-masked captions when the
            encoder gives them.
        refined_text: (B, L, Ct) the words after the last stage (DMMI refines them; LAVT passes
            them through, so this is ``text.feats``).
    """

    refined_text: Tensor


@dataclass(frozen=True)
class AlignedFeatures(TextFeatureMaps):
    """The output of :class:`~vlseg.models.necks.TargetEnhancementNeck` (TMCA).

    ``maps`` holds the encoder maps, enhanced at the levels in ``levels``.

    Attributes:
        text: (inherited) The text encoder's output.
        encoder_maps: The encoder maps before the enhancement, (B, C_i, H_i, W_i).
        levels: Indices of the enhanced (and aligned) levels.
        visual_embeds: Per level in ``levels``, the pixel embeddings (B, D, H_i, W_i) in that
            level's image-text space.
        text_embeds: Per level, the caption embedding (B, D) in the same space.
        attentions: Per level, the spatial attention (B, 1, H_i, W_i).
        sentence: (B, C_t) the pooled caption.
    """

    encoder_maps: Tuple[Tensor, ...]
    levels: Tuple[int, ...]
    visual_embeds: Tuple[Tensor, ...]
    text_embeds: Tuple[Tensor, ...]
    attentions: Tuple[Tensor, ...]
    sentence: Tensor


@dataclass(frozen=True)
class DecoderOutput:
    """What a decode head's ``decode(inputs)`` returns (DMMI).

    Attributes:
        logits: (B, K, H, W) the segmentation logits, as ``forward`` returns them.
        maps: The decoder's intermediate maps, coarsest first (DMMI: the 1/16, 1/8, 1/4 maps).
        features: The container the decode head read (DMMI: :class:`LanguageFeatures`).
    """

    logits: Tensor
    maps: Tuple[Tensor, ...]
    features: Any
