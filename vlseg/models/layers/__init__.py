"""Plain PyTorch building blocks: tensors in, tensors out, no registry logic."""
from .bidirectional_interaction import BidirectionalInteraction
from .conditioned_interaction import ConditionedInteraction, ConditionedInteractionOutput
from .conditioned_reconstructor import ConditionedReconstructor
from .conv1d_bn_relu import conv1d_bn_relu
from .down_vit import DownViT
from .language_gate import LanguageGate
from .language_guided_target_enhancement import (LanguageGuidedTargetEnhancement,
                                                 TargetEnhancementOutput, coordinate_channels)
from .patch_embed import PatchEmbed
from .pixel_word_attention import PixelWordAttention, masked_word_features, word_attention_map
from .plam import PLAM
from .probability_masking import ProbabilityMasking, probability_mask
from .target_semantic_distance import (TargetDistance, TargetSemanticDistance, resize_target,
                                       semantic_distance, target_region_pool)
from .text_pooling import TextPooling, text_pooling
from .token_reconstruct import TokenReconstruct
from .unet_down_block import UNetDownBlock, conv_stack
from .unet_up_block import UNetUpBlock
from .up_vit import UpViT
from .vit_block import ViTBlock
from .vit_mlp import ViTMLP

__all__ = [
    'BidirectionalInteraction', 'ConditionedInteraction', 'ConditionedInteractionOutput',
    'ConditionedReconstructor', 'DownViT', 'LanguageGate', 'LanguageGuidedTargetEnhancement',
    'PLAM', 'PatchEmbed', 'PixelWordAttention', 'ProbabilityMasking', 'TargetDistance',
    'TargetEnhancementOutput', 'TargetSemanticDistance', 'TextPooling', 'TokenReconstruct',
    'UNetDownBlock', 'UNetUpBlock', 'UpViT', 'ViTBlock', 'ViTMLP', 'conv1d_bn_relu',
    'conv_stack', 'coordinate_channels', 'masked_word_features', 'probability_mask',
    'resize_target', 'semantic_distance', 'target_region_pool', 'text_pooling',
    'word_attention_map'
]
