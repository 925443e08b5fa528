"""Text encoders mapping captions to token features and a padding mask."""
from .clip_text_encoder import CLIPTextEncoder, load_clip_text_state_dict
from .embedding_cache import EmbeddingCache
from .entity_masked_text_encoder import EntityMaskedTextEncoder, MaskedTextFeatures
from .hf_text_encoder import HFTextEncoder

__all__ = ['CLIPTextEncoder', 'EmbeddingCache', 'EntityMaskedTextEncoder', 'HFTextEncoder',
           'MaskedTextFeatures', 'load_clip_text_state_dict']
