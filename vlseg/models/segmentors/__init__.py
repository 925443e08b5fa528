"""Segmentors: wiring only."""
from .text_guided_encoder_decoder import (TextGuidedEncoderDecoder, accepts_text, head_inputs,
                                          with_text)

__all__ = ['TextGuidedEncoderDecoder', 'accepts_text', 'head_inputs', 'with_text']
