"""vlseg: vision-language layers for language-guided medical image segmentation.

Importing vlseg installs the dependency workarounds of :mod:`vlseg.compat` (a pure-PyTorch
``mmcv.ops`` when compiled mmcv is missing, weights-only checkpoint loading) and registers
every model, dataset, transform and metric in MMSegmentation's registries.

Without MMSegmentation installed it does neither: only the plain-PyTorch layers of
:mod:`vlseg.models.layers` can then be imported (``from vlseg.models.layers import ...``).
"""
from importlib.util import find_spec

__version__ = '0.1.0'

if find_spec('mmseg') is None:
    __all__ = ['__version__']
else:
    from . import compat

    compat.install()

    from . import apis, datasets, engine, evaluation, models, utils, visualization  # noqa: E402

    __all__ = ['apis', 'compat', 'datasets', 'engine', 'evaluation', 'models', 'utils',
               'visualization', '__version__']
