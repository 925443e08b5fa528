"""Plain PyTorch building blocks: tensors in, tensors out, no registry logic.

Nothing here imports MMCV, MMSegmentation or MMEngine (``tests/test_models/test_layers/
test_plain_pytorch.py`` checks it): norms and activations are passed as callables, timm style
(``norm_layer=nn.BatchNorm2d``, ``act_layer=nn.ReLU``). The registered modules that build these
layers from ``norm_cfg`` / ``act_cfg`` convert them with :mod:`vlseg.models.layer_cfg`, and
argument checks shared with them are in :mod:`vlseg.models.layers.checks`.
"""
from .bidirectional_fusion import BidirectionalFusion
from .bidirectional_interaction import BidirectionalInteraction
from .conditioned_interaction import ConditionedInteraction, ConditionedInteractionOutput
from .conditioned_reconstructor import ConditionedReconstructor
from .conv1d_bn_relu import conv1d_bn_relu
from .conv_norm_act import ConvNormAct
from .down_vit import DownViT
from .guide_decoder_layer import GuideDecoderLayer
from .language_gate import LanguageGate
from .language_guided_target_enhancement import (LanguageGuidedTargetEnhancement,
                                                 TargetEnhancementOutput, coordinate_channels)
from .patch_embed import PatchEmbed
from .pixel_word_attention import PixelWordAttention, masked_word_features, word_attention_map
from .plam import PLAM
from .probability_masking import ProbabilityMasking, probability_mask
from .pwam_fusion import PWAMFusion
from .sinusoidal_position_encoding import SinusoidalPositionEncoding, sinusoidal_position_encoding
from .stage_fusion_output import StageFusionOutput
from .target_semantic_distance import (TargetDistance, TargetSemanticDistance, resize_target,
                                       semantic_distance, target_region_pool)
from .text_pooling import TextPooling, text_pooling
from .text_token_projection import TextTokenProjection
from .token_reconstruct import TokenReconstruct
from .unet_down_block import UNetDownBlock, conv_stack
from .unet_up_block import UNetUpBlock
from .up_vit import UpViT
from .vit_block import ViTBlock
from .vit_mlp import ViTMLP

__all__ = [
    'BidirectionalFusion', 'BidirectionalInteraction', 'ConditionedInteraction',
    'ConditionedInteractionOutput', 'ConditionedReconstructor', 'ConvNormAct', 'DownViT',
    'GuideDecoderLayer', 'LanguageGate', 'LanguageGuidedTargetEnhancement', 'PLAM', 'PWAMFusion',
    'PatchEmbed', 'PixelWordAttention', 'ProbabilityMasking', 'SinusoidalPositionEncoding',
    'StageFusionOutput', 'TargetDistance', 'TargetEnhancementOutput', 'TargetSemanticDistance',
    'TextPooling', 'TextTokenProjection', 'TokenReconstruct', 'UNetDownBlock', 'UNetUpBlock',
    'UpViT', 'ViTBlock', 'ViTMLP', 'conv1d_bn_relu', 'conv_stack', 'coordinate_channels',
    'masked_word_features', 'probability_mask', 'resize_target', 'semantic_distance',
    'sinusoidal_position_encoding', 'target_region_pool', 'text_pooling', 'word_attention_map'
]
