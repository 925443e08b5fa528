"""Installs vlseg, a vision-language plugin for MMSegmentation 1.x."""
from setuptools import find_packages, setup

# Versions CI was green with are recorded in README.md ("Tested stack").
INSTALL_REQUIRES = [
    'torch>=2.14',
    'torchvision',
    'timm',
    'open-clip-torch>=3.0',
    'einops',
    'fvcore',
    # MONAI: GuideDecoder's UNETR up-blocks, HD95 / NSD in TextSegMetric
    'monai>=1.4',
    'mmengine==0.10.7',
    'mmsegmentation==1.2.2',
    'mmcv-lite==2.1.0',
    'openpyxl',
    'pandas',
    'prettytable',
    'matplotlib',
    'ftfy',
    'regex',
]

DEPLOY = ['onnx', 'onnxruntime', 'onnxscript']

EXTRAS_REQUIRE = {
    # HuggingFace text encoders (HFTextEncoder: BERT as in LAVT / DMMI)
    'hf': ['transformers'],
    # Local web demo (tools/demo.py)
    'demo': ['gradio'],
    # TensorBoard as a visualizer backend: vis_backends=[dict(type='TensorboardVisBackend')]
    'tensorboard': ['tensorboard'],
    # ONNX export (tools/deploy/export_onnx.py; onnxscript: torch.onnx.export's dynamo
    # exporter) and ONNX Runtime (deploy_model(backend='onnxruntime'))
    'deploy': DEPLOY,
    # gradio_client drives the demo in tests/test_tools/test_demo.py; tensorboard (about 50 MB
    # installed) lets tests/test_visualization check the TensorBoard backend; the deploy extra
    # runs tests/test_tools/test_export_onnx.py and tests/test_apis/test_deploy.py
    'tests': ['pytest>=8', 'transformers', 'gradio', 'gradio_client', 'tensorboard', *DEPLOY],
}

setup(
    name='vlseg',
    version='0.1.0',
    description='Vision-language layers for language-guided medical image '
                'segmentation on MMSegmentation 1.x',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    python_requires='>=3.10',
    packages=find_packages(include=['vlseg', 'vlseg.*']),
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
    license='Apache-2.0',
)
