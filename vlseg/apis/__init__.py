"""Inference with a trained model: build it from its config and checkpoint, then segment
images with their captions (:func:`init_model`, :func:`inference_model`)."""
from .inference import InferenceResult, inference_model
from .interest_weights import (has_interest_weights, interest_weights, patch_weight_map,
                               token_strings)
from .model_args import add_model_args, init_model_from_args
from .model_loading import init_model, load_weights

__all__ = ['InferenceResult', 'add_model_args', 'has_interest_weights', 'inference_model',
           'init_model',
           'init_model_from_args', 'interest_weights', 'load_weights', 'patch_weight_map',
           'token_strings']
