"""Segmentors: wiring only."""
from .text_guided_encoder_decoder import TextGuidedEncoderDecoder, accepts_text, head_inputs

__all__ = ['TextGuidedEncoderDecoder', 'accepts_text', 'head_inputs']
