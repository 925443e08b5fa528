"""Image encoders."""
from .bidirectional_fusion import BidirectionalFusion
from .language_swin import LanguageFeatures, LanguageSwin, StageFusionOutput
from .lvit_encoder import LViTEncoder
from .pwam_fusion import PWAMFusion
from .unet_encoder import UNetEncoder

__all__ = ['BidirectionalFusion', 'LViTEncoder', 'LanguageFeatures', 'LanguageSwin',
           'PWAMFusion', 'StageFusionOutput', 'UNetEncoder']
