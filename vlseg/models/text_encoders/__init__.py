"""Text encoders mapping captions to :class:`~vlseg.models.structures.TextFeatures`."""
from .base_text_encoder import BaseTextEncoder
from .clip_checkpoint import load_clip_text_state_dict
from .clip_text_encoder import CLIPTextEncoder
from .embedding_cache import EmbeddingCache
from .entity_masked_text_encoder import EntityMaskedTextEncoder
from .hf_text_encoder import HFTextEncoder

__all__ = ['BaseTextEncoder', 'CLIPTextEncoder', 'EmbeddingCache', 'EntityMaskedTextEncoder',
           'HFTextEncoder', 'load_clip_text_state_dict']
