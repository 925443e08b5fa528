"""Text encoders mapping captions to token features and a padding mask."""
from .clip_text_encoder import CLIPTextEncoder, load_clip_text_state_dict
from .embedding_cache import EmbeddingCache

__all__ = ['CLIPTextEncoder', 'EmbeddingCache', 'load_clip_text_state_dict']
