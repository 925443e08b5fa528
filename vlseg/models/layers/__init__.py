"""Plain PyTorch building blocks: tensors in, tensors out, no registry logic."""
from .conditioned_interaction import ConditionedInteraction, ConditionedInteractionOutput
from .conditioned_reconstructor import ConditionedReconstructor
from .conv1d_bn_relu import conv1d_bn_relu
from .down_vit import DownViT
from .patch_embed import PatchEmbed
from .plam import PLAM
from .probability_masking import ProbabilityMasking, probability_mask
from .token_reconstruct import TokenReconstruct
from .unet_down_block import UNetDownBlock, conv_stack
from .unet_up_block import UNetUpBlock
from .up_vit import UpViT
from .vit_block import ViTBlock
from .vit_mlp import ViTMLP
from .language_guided_target_enhancement import (LanguageGuidedTargetEnhancement,
                                                 TargetEnhancementOutput, coordinate_channels)
from .target_semantic_distance import (TargetDistance, TargetSemanticDistance, resize_target,
                                       semantic_distance, target_region_pool)
from .text_pooling import TextPooling, text_pooling

__all__ = ['ConditionedInteraction', 'ConditionedInteractionOutput', 'ConditionedReconstructor',
           'DownViT', 'PLAM', 'PatchEmbed', 'ProbabilityMasking', 'TokenReconstruct',
           'UNetDownBlock', 'UNetUpBlock', 'UpViT', 'ViTBlock', 'ViTMLP', 'conv1d_bn_relu',
           'conv_stack', 'probability_mask']
__all__ += ['LanguageGuidedTargetEnhancement', 'TargetEnhancementOutput', 'coordinate_channels', 'TargetDistance', 'TargetSemanticDistance', 'resize_target', 'semantic_distance', 'target_region_pool', 'TextPooling', 'text_pooling']
