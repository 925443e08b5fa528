"""vlseg.models.layers is plain PyTorch: it imports and runs with MMCV, MMSegmentation and
MMEngine blocked, and then ``import vlseg`` registers nothing."""
import os
import subprocess
import sys
import textwrap

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
BLOCKED = ('mmcv', 'mmseg', 'mmengine')

# Runs in a fresh interpreter. ``sys.modules[name] = None`` makes ``import name`` (and of any
# submodule) raise ImportError, and ``importlib.util.find_spec(name)`` return None, as if the
# package were not installed.
SCRIPT = textwrap.dedent("""
    import importlib, pkgutil, sys
    for name in {blocked!r}:
        sys.modules[name] = None

    import torch

    import vlseg.models.layers as layers
    for info in pkgutil.iter_modules(layers.__path__):
        importlib.import_module(f'vlseg.models.layers.{{info.name}}')
    for name in layers.__all__:
        getattr(layers, name)
    from vlseg.models.structures import TextFeatures  # the containers are plain too
    TextFeatures(torch.zeros(1, 3, 4), torch.zeros(1, 3, dtype=torch.bool))
    loaded = sorted(m for m in sys.modules if m.split('.')[0] in {blocked!r}
                    and sys.modules[m] is not None)
    assert not loaded, loaded
    assert not hasattr(sys.modules['vlseg'], 'datasets'), 'vlseg registered without mmseg'

    torch.manual_seed(0)
    model = layers.ConditionedReconstructor(embed_dims=32, num_heads=4, num_layers=1,
                                            ffn_dims=64).eval()
    condition, target = torch.randn(2, 8, 32), torch.randn(2, 16, 32)
    out = model(condition, target, torch.softmax(torch.randn(2, 8), dim=1))
    assert out.shape == (2, 16, 32) and out.isfinite().all(), out.shape
    conv = layers.ConvNormAct(3, 8, 3, padding=1)
    assert conv(torch.randn(2, 3, 5, 5)).shape == (2, 8, 5, 5)
    print('ok', len(layers.__all__))
""")


def test_layers_import_and_run_without_mm_packages():
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(filter(None, [ROOT, env.get('PYTHONPATH')]))
    result = subprocess.run([sys.executable, '-c', SCRIPT.format(blocked=BLOCKED)],
                            capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith('ok')


def test_the_block_catches_an_mm_import():
    """The harness above would see a layer that imports MMCV: the blocked import raises."""
    script = SCRIPT.format(blocked=BLOCKED).replace('import torch\n',
                                                    'import torch\nimport mmcv.cnn\n', 1)
    result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                            cwd=ROOT, timeout=60)
    assert result.returncode != 0 and "No module named 'mmcv.cnn'" in result.stderr
