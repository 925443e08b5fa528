"""Inference with a trained model: build it from its config and checkpoint, then segment
images with their captions (:func:`init_model`, :func:`inference_model`); deploy mode
(:func:`deploy_model`) and ONNX export (:func:`export_onnx`)."""
from .deploy import (BACKENDS, OnnxRuntimeEncodeDecode, deploy_model, fold_conv_bn,
                     network_input_size)
from .inference import InferenceResult, inference_model
from .interest_weights import (has_interest_weights, interest_weights, patch_weight_map,
                               token_strings)
from .model_args import add_model_args, init_model_from_args
from .model_loading import init_model, load_weights
from .onnx_export import EXPORTERS, OnnxSegmentor, example_inputs, export_onnx
from .segmentor_graph import TEXT_INPUTS, SegmentorGraph

__all__ = ['BACKENDS', 'EXPORTERS', 'InferenceResult', 'OnnxRuntimeEncodeDecode',
           'OnnxSegmentor', 'SegmentorGraph', 'TEXT_INPUTS', 'add_model_args', 'deploy_model',
           'example_inputs', 'export_onnx', 'fold_conv_bn', 'has_interest_weights',
           'inference_model', 'init_model', 'init_model_from_args', 'interest_weights',
           'load_weights', 'network_input_size', 'patch_weight_map', 'token_strings']
