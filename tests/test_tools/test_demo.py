"""tools/demo.py: the Gradio demo serves on 127.0.0.1 and answers a gradio_client request;
a text-free model gets no interest maps."""
import importlib.util
import os
import os.path as osp
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

gradio = pytest.importorskip('gradio', reason='the demo needs the "demo" extra (gradio)')
gradio_client = pytest.importorskip('gradio_client')

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'demo.py')
CONFIG = osp.join(REPO, 'configs/reclmis_synthetic.py')
#: Seconds the demo may take to build the model, load the checkpoint and start serving.
STARTUP_TIMEOUT = 300


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _wait_until_serving(proc: subprocess.Popen, url: str, log_path: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            with open(log_path) as f:
                pytest.fail(f'the demo exited with {proc.returncode}:\n{f.read()[-4000:]}')
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(1)
    with open(log_path) as f:
        pytest.fail(f'the demo did not serve {url} within {STARTUP_TIMEOUT} s:\n'
                    f'{f.read()[-4000:]}')


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    """A running demo of RecLMIS (random weights) and its URL; stopped after the tests."""
    import torch

    from vlseg.apis import init_model

    tmp = tmp_path_factory.mktemp('demo')
    model = init_model(CONFIG)
    ckpt = str(tmp / 'random.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    del model
    port = _free_port()
    log_path = str(tmp / 'demo.log')
    env = dict(os.environ, PYTHONUNBUFFERED='1', GRADIO_ANALYTICS_ENABLED='False',
               GRADIO_TEMP_DIR=str(tmp / 'gradio'))
    with open(log_path, 'w') as log:
        proc = subprocess.Popen(
            [sys.executable, 'tools/demo.py', CONFIG, ckpt, '--host', '127.0.0.1', '--port',
             str(port)], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f'http://127.0.0.1:{port}/'
    try:
        _wait_until_serving(proc, url, log_path)
        yield url, tmp
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_demo_segments_an_uploaded_image(demo):
    from PIL import Image

    from vlseg.datasets.synthetic import generate_sample

    url, tmp = demo
    sample = generate_sample(seed=0, split='test', index=0, image_size=128)
    image_path = str(tmp / 'input.png')
    Image.fromarray(sample.image).save(image_path)
    H, W = sample.image.shape[:2]

    client = gradio_client.Client(url, verbose=False, download_files=str(tmp / 'client'))
    outputs = client.predict(gradio_client.handle_file(image_path), sample.caption,
                             api_name='/predict')
    mask_path, overlay_path, heatmap_path, chart_path = outputs[:4]

    mask = np.array(Image.open(mask_path))
    assert mask.shape == (H, W)
    assert set(np.unique(mask).tolist()) <= {0, 255}
    overlay = np.array(Image.open(overlay_path))
    assert overlay.ndim == 3 and overlay.shape[2] == 3
    assert overlay.shape[0] >= H and overlay.shape[1] >= W
    # RecLMIS has interest weights: the W_poi heat map is drawn over the image, and the W_woi
    # chart is there too
    heatmap = np.array(Image.open(heatmap_path))
    assert heatmap.ndim == 3 and heatmap.shape[0] >= H and heatmap.shape[1] >= W
    assert heatmap.std() > 0
    assert osp.isfile(chart_path)


def test_demo_rejects_an_empty_caption(demo):
    from PIL import Image

    url, tmp = demo
    image_path = str(tmp / 'blank.png')
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(image_path)
    client = gradio_client.Client(url, verbose=False, download_files=str(tmp / 'client'))
    with pytest.raises(Exception, match='caption'):
        client.predict(gradio_client.handle_file(image_path), '  ', api_name='/predict')


def _tool_module():
    spec = importlib.util.spec_from_file_location('demo_tool', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_text_free_model_has_no_interest_maps():
    from vlseg.apis import init_model

    tool = _tool_module()
    model = init_model(osp.join(REPO, 'configs/unet_synthetic.py'))
    image = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    mask, overlay, heat, chart = tool.predict(model, image, 'Lower left lung.')
    assert mask.shape == (48, 64) and set(np.unique(mask).tolist()) <= {0, 255}
    assert overlay.ndim == 3 and overlay.shape[2] == 3
    assert heat is None and chart is None
    hidden = [block.label for block in tool.build_demo(model, 'U-Net').blocks.values()
              if isinstance(block, gradio.Image) and not block.visible]
    assert len(hidden) == 2 and all('of interest' in label for label in hidden)
    with pytest.raises(gradio.Error, match='image'):
        tool.predict(model, None, 'Lower left lung.')
    with pytest.raises(gradio.Error, match='caption'):
        tool.predict(model, image, ' ')
