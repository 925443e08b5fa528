"""Plain PyTorch building blocks: tensors in, tensors out, no registry logic."""
from .conditioned_interaction import ConditionedInteraction, ConditionedInteractionOutput
from .conditioned_reconstructor import ConditionedReconstructor
from .plam import PLAM
from .probability_masking import ProbabilityMasking, probability_mask
from .unet_down_block import UNetDownBlock, conv_stack
from .unet_up_block import UNetUpBlock

__all__ = ['ConditionedInteraction', 'ConditionedInteractionOutput', 'ConditionedReconstructor',
           'PLAM', 'ProbabilityMasking', 'UNetDownBlock', 'UNetUpBlock', 'conv_stack',
           'probability_mask']
