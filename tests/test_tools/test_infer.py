"""tools/infer.py end to end on a tiny random-weight RecLMIS checkpoint (reclmis_synthetic.py
with a 1-layer text tower): one image, --compare, and a csv folder with masks."""
import csv
import importlib.util
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from vlseg.apis import inference_model, init_model
from vlseg.datasets.synthetic import generate_sample

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'infer.py')
TINY = """
_base_ = [{base!r}]
model = dict(text_encoder=dict(text_cfg=dict(width=64, heads=2, layers=1)))
"""
OTHER = 'Unilateral pulmonary infection, one infected area, upper right lung.'


def _run(*args):
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, TOOL, *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return proc.stdout + proc.stderr


@pytest.fixture(scope='module')
def setup(tmp_path_factory, one_thread):
    """A tiny config, its random-weight checkpoint (MMEngine form), one whose decode head
    says foreground everywhere, and synthetic images with masks."""
    tmp = tmp_path_factory.mktemp('infer')
    cfg = tmp / 'tiny_reclmis.py'
    cfg.write_text(TINY.format(base=osp.join(REPO, 'configs', 'reclmis_synthetic.py')))
    torch.manual_seed(0)
    model = init_model(str(cfg))
    ckpt = tmp / 'random.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    with torch.no_grad():  # logit 10 everywhere: the mask is the whole image
        model.decode_head.conv_seg.weight.zero_()
        model.decode_head.conv_seg.bias.fill_(10.0)
    everywhere = tmp / 'everywhere.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, everywhere)
    samples = [generate_sample(0, 'test', i, image_size=128) for i in range(2)]
    for i, sample in enumerate(samples):
        cv2.imwrite(str(tmp / f'img{i}.png'), sample.image)
    return dict(tmp=tmp, cfg=str(cfg), ckpt=str(ckpt), everywhere=str(everywhere),
                samples=samples)


def test_one_image_with_compare(setup):
    tmp, sample = setup['tmp'], setup['samples'][0]
    out = tmp / 'one'
    _run(setup['cfg'], setup['ckpt'], str(tmp / 'img0.png'), sample.caption, '--out', str(out),
         '--compare', OTHER)
    names = sorted(os.listdir(out))
    assert names == [f'img0_{kind}.png' for kind in
                     ('compare', 'mask', 'overlay', 'poi', 'prob', 'woi')]
    expected = inference_model(init_model(setup['cfg'], setup['ckpt']),
                               [sample.image] * 2, [sample.caption, OTHER])
    mask = cv2.imread(str(out / 'img0_mask.png'), cv2.IMREAD_UNCHANGED)
    assert mask.shape == (128, 128) and set(np.unique(mask)) <= {0, 255}
    np.testing.assert_array_equal(mask, expected[0].mask * 255)
    for kind in ('prob', 'poi'):
        assert cv2.imread(str(out / f'img0_{kind}.png')).shape == (128, 128, 3)
    overlay = cv2.imread(str(out / 'img0_overlay.png'))
    assert overlay.shape[1] == 256 and overlay.shape[0] > 256  # enlarged x2, caption below
    compare = cv2.imread(str(out / 'img0_compare.png'))
    assert compare.shape[1] == 3 * (256 + 4)  # three panels: caption 1, caption 2, difference
    assert cv2.imread(str(out / 'img0_woi.png')) is not None


def test_csv_folder_with_masks(setup):
    tmp, samples = setup['tmp'], setup['samples']
    gt = np.zeros((128, 128), np.uint8)
    gt[32:64, 32:64] = 255  # 1024 lesion pixels
    cv2.imwrite(str(tmp / 'square.png'), gt)
    table = tmp / 'list.csv'
    with open(table, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['image', 'text', 'mask'])
        writer.writerow(['img0.png', samples[0].caption, 'square.png'])
        writer.writerow(['img1.png', samples[1].caption, ''])
    out = tmp / 'folder'
    log = _run(setup['cfg'], setup['everywhere'], '--csv', str(table), '--img-dir', str(tmp),
               '--out', str(out), '--batch-size', '2')
    for stem in ('img0', 'img1'):
        assert np.all(cv2.imread(str(out / f'{stem}_mask.png'), cv2.IMREAD_UNCHANGED) == 255)
    with open(out / 'results.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    assert [r['image'] for r in rows] == ['img0.png', 'img1.png']
    assert rows[0]['caption'] == samples[0].caption
    assert int(rows[0]['foreground_pixels']) == 128 * 128
    # the whole image predicted, 1024 true pixels: Dice 2*1024 / (16384 + 1024), IoU 1024/16384
    assert float(rows[0]['dice']) == pytest.approx(2 * 1024 / (16384 + 1024), abs=1e-6)
    assert float(rows[0]['iou']) == pytest.approx(1024 / 16384, abs=1e-6)
    assert rows[1]['dice'] == rows[1]['iou'] == ''
    assert 'mDice 0.1176' in log and 'mIoU 0.0625' in log


def _tool_module():
    spec = importlib.util.spec_from_file_location('infer_tool', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bad_csv_row_fails_before_anything_is_written(setup):
    tmp = setup['tmp']
    table = tmp / 'bad.csv'
    table.write_text('image,text,mask\nimg0.png,a caption,\nmissing.png,a caption,\n')
    out = tmp / 'never'
    with pytest.raises(ValueError, match=r"bad\.csv, line 3, field 'image'"):
        _tool_module().main([setup['cfg'], setup['ckpt'], '--csv', str(table), '--img-dir',
                             str(tmp), '--out', str(out)])
    assert not out.exists()
    table.write_text('image,text,mask\nimg0.png,a caption,img1.png\nimg1.png,,\n')
    with pytest.raises(ValueError, match=r"line 3, field 'text'"):
        _tool_module().read_rows(str(table), str(tmp), None)
