"""CaptionOverlayHook: fixed samples through the runner's visualizer, main process only."""
import glob
import os.path as osp
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.structures import PixelData
from mmseg.registry import HOOKS
from mmseg.structures import SegDataSample
from mmseg.visualization import SegLocalVisualizer

import vlseg  # noqa: F401
from vlseg.visualization import CaptionOverlayHook, draw_panel, sample_indices

SIZE = 32
SCALE = 256 // SIZE  # draw_panel enlarges a 32-pixel image 8 times
GRAY = 100
# draw_panel's tint: 0.55 * image + 0.45 * colour (BGR), truncated to uint8.
RED = (int(0.55 * GRAY), int(0.55 * GRAY), int(0.55 * GRAY + 0.45 * 255))
BLUE = RED[::-1]


def test_draw_panel_tints_prediction_and_outlines_ground_truth():
    image = np.full((16, 16), GRAY, np.uint8)
    pred = np.zeros((16, 16), np.uint8)
    pred[2:5, 2:5] = 1
    gt = np.zeros((16, 16), np.uint8)
    gt[8:12, 8:12] = 1
    panel = draw_panel(image, pred, 'lower left lung', 'caption:', gt=gt)
    scale = 256 // 16
    assert panel.shape == (16 * scale + 14 * 2 + 6, 16 * scale, 3)
    assert tuple(panel[3 * scale, 3 * scale]) == RED  # red tint (BGR) on the prediction
    assert tuple(panel[8 * scale, 10 * scale]) == (0, 255, 0)  # green outline of the gt
    assert tuple(panel[0, 15 * scale]) == (GRAY, GRAY, GRAY)  # untouched elsewhere
    text = panel[16 * scale:]
    assert text.min() < 128 and text.max() == 255  # dark text on white


class StubModel(torch.nn.Module):
    """Predicts the left half of the image when the caption says 'left', else the right half.

    It draws from NumPy's and torch's generators, as a random pipeline or dropout would, and
    records every caption it was run with.
    """

    def __init__(self) -> None:
        super().__init__()
        self.captions = []

    def test_step(self, batch: dict) -> list:
        np.random.rand()
        torch.rand(1)
        outputs = []
        for sample in batch['data_samples']:
            self.captions.append(sample.text)
            mask = torch.zeros(1, SIZE, SIZE, dtype=torch.long)
            mask[..., :SIZE // 2] = 1 if 'left' in sample.text else 0
            mask[..., SIZE // 2:] = 0 if 'left' in sample.text else 1
            sample.pred_sem_seg = PixelData(data=mask)
            outputs.append(sample)
        return outputs


def _dataset(folder, num: int = 10) -> list:
    """Items as a dataset with PackSegInputs gives them: 32x32 gray images captioned 'left',
    ground truth a square at rows and columns 4-11."""
    items = []
    for i in range(num):
        path = osp.join(folder, f'img{i}.png')
        cv2.imwrite(path, np.full((SIZE, SIZE, 3), GRAY, np.uint8))
        gt = torch.zeros(1, SIZE, SIZE, dtype=torch.long)
        gt[:, 4:12, 4:12] = 1
        sample = SegDataSample(metainfo=dict(img_path=path, text='lesion in the left lung',
                                             ori_shape=(SIZE, SIZE)))
        sample.gt_sem_seg = PixelData(data=gt)
        items.append(dict(inputs=torch.zeros(3, SIZE, SIZE), data_samples=sample))
    return items


def _runner(tmp_path, backends=(dict(type='LocalVisBackend'), )) -> SimpleNamespace:
    (tmp_path / 'data').mkdir(exist_ok=True)
    loader = SimpleNamespace(dataset=_dataset(str(tmp_path / 'data')), collate_fn=pseudo_collate)
    visualizer = SegLocalVisualizer(name=f'overlay_test_{id(loader)}', save_dir=str(tmp_path),
                                    vis_backends=[dict(b) for b in backends])
    return SimpleNamespace(model=StubModel(), visualizer=visualizer, val_dataloader=loader,
                           test_dataloader=loader, iter=0)


def _images(tmp_path, pattern: str) -> list:
    """Names of the files LocalVisBackend wrote (the visualizer's save_dir/vis_data)."""
    paths = glob.glob(osp.join(tmp_path, 'vis_data', 'vis_image', pattern))
    return sorted(osp.basename(p) for p in paths)


def test_sample_indices_spread_over_the_dataset():
    assert sample_indices(10, 3) == [0, 4, 9]  # np.linspace(0, 9, 3).round(): 4.5 -> 4
    assert sample_indices(3, 5) == [0, 1, 2]
    assert sample_indices(0, 4) == [] and sample_indices(7, 0) == []


def test_the_same_samples_at_every_validation_round(tmp_path):
    runner = _runner(tmp_path)
    hook = HOOKS.build(dict(type='CaptionOverlayHook', num_samples=3))
    for step in (2, 4):
        runner.iter = step
        hook.after_val_epoch(runner, metrics={})
    names = [f'val_{i:04d}_img{i}' for i in (0, 4, 9)]
    assert _images(tmp_path, 'val_*_2.png') == [f'{n}_2.png' for n in names]
    assert _images(tmp_path, 'val_*_4.png') == [f'{n}_4.png' for n in names]
    # Each sample ran twice per round: with its caption and with the other zones'.
    assert runner.model.captions == ['lesion in the left lung', 'lesion in the right lung'] * 6
    hook.after_test_epoch(runner, metrics={})
    assert _images(tmp_path, 'test_*') == [f'test_{i:04d}_img{i}_4.png' for i in (0, 4, 9)]


def test_overlay_tints_the_mask_only(tmp_path):
    runner = _runner(tmp_path)
    CaptionOverlayHook(num_samples=1).after_val_epoch(runner)
    sheet = cv2.imread(osp.join(tmp_path, 'vis_data', 'vis_image', 'val_0000_img0_0.png'))
    side = SIZE * SCALE
    assert sheet.shape[1] == 2 * (side + 4)  # two panels, each with a 4-pixel gap
    caption, other = sheet[:side, :side], sheet[:side, side + 4:2 * side + 4]
    left, right = np.s_[:, :side // 2], np.s_[:, side // 2:]
    # 'left': the left half is red, except the green outline of the ground truth.
    outline = np.zeros((side, side), bool)
    outline[4 * SCALE:12 * SCALE, 4 * SCALE:12 * SCALE] = True
    outline[5 * SCALE:11 * SCALE, 5 * SCALE:11 * SCALE] = False  # 1 pixel, enlarged
    assert (caption[outline] == (0, 255, 0)).all()
    assert (caption[left][~outline[left]] == RED).all()
    assert (caption[right] == GRAY).all()
    # Other zones ('right'): the right half is blue, the left half untouched, no outline.
    assert (other[right] == BLUE).all() and (other[left] == GRAY).all()


def test_without_a_readable_image_file_the_network_input_is_drawn(tmp_path):
    runner = _runner(tmp_path)
    runner.val_dataloader.dataset[0]['data_samples'].set_metainfo(
        dict(img_path=str(tmp_path / 'elsewhere' / 'img0.png')))
    CaptionOverlayHook(num_samples=1).after_val_epoch(runner)
    sheet = cv2.imread(osp.join(tmp_path, 'vis_data', 'vis_image', 'val_0000_img0_0.png'))
    side = SIZE * SCALE
    assert (sheet[:side, side // 2:side] == 0).all()  # the stub's black input, untinted


def test_interval_and_switches(tmp_path):
    runner = _runner(tmp_path)
    hook = CaptionOverlayHook(num_samples=1, val_interval=2, draw_test=False)
    for step in (1, 2, 3, 4):
        runner.iter = step
        hook.after_val_epoch(runner)
    hook.after_test_epoch(runner)
    assert _images(tmp_path, '*') == ['val_0000_img0_2.png', 'val_0000_img0_4.png']
    CaptionOverlayHook(num_samples=0).after_val_epoch(runner)
    assert len(_images(tmp_path, '*')) == 2
    for bad in (dict(num_samples=-1), dict(val_interval=-1)):
        with pytest.raises(ValueError):
            CaptionOverlayHook(**bad)


def test_only_the_main_process_draws(tmp_path, monkeypatch):
    import mmengine.dist.utils
    monkeypatch.setattr(mmengine.dist.utils, 'get_rank', lambda group=None: 1)
    runner = _runner(tmp_path)
    hook = CaptionOverlayHook()
    hook.after_val_epoch(runner)
    hook.after_test_epoch(runner)
    assert runner.model.captions == []  # not even run
    assert not glob.glob(osp.join(tmp_path, 'vis_data', '**', '*'), recursive=True)


def test_model_mode_and_random_streams_are_restored(tmp_path):
    runner = _runner(tmp_path)
    runner.model.train()
    np_state, torch_state = np.random.get_state(), torch.get_rng_state()
    expected = np.random.rand(), torch.rand(1)
    np.random.set_state(np_state)
    torch.set_rng_state(torch_state)
    CaptionOverlayHook(num_samples=2).after_val_epoch(runner)
    assert runner.model.captions  # the stub drew from both generators
    assert runner.model.training
    assert np.random.rand() == expected[0] and torch.equal(torch.rand(1), expected[1])


def test_tensorboard_backend_receives_the_overlays(tmp_path):
    pytest.importorskip('tensorboard', reason='the TensorBoard backend needs the extra '
                        '`tensorboard` (pip install -e .[tensorboard])')
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    runner = _runner(tmp_path, backends=[dict(type='TensorboardVisBackend')])
    hook = CaptionOverlayHook(num_samples=2)
    for step in (3, 6):
        runner.iter = step
        hook.after_val_epoch(runner)
    runner.visualizer.close()  # flushes the event file
    events = EventAccumulator(osp.join(tmp_path, 'vis_data'), size_guidance={'images': 0})
    events.Reload()
    assert sorted(events.Tags()['images']) == ['val_0000_img0', 'val_0009_img9']
    logged = events.Images('val_0009_img9')
    assert [e.step for e in logged] == [3, 6]
    assert (logged[0].width, logged[0].height) == (2 * (SIZE * SCALE + 4),
                                                    SIZE * SCALE + 14 * 2 + 6)
    assert not _images(tmp_path, '*')  # no local files


def _tiny_runner(tmp_path, work: str, with_hook: bool):
    """configs/unet_synthetic.py at 32x32 on 8 training images: 4 iterations, validation after
    2 and 4, then the test split."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    from vlseg.engine import apply_run_defaults, prepare_synthetic_data
    cfg = Config.fromfile(osp.join(osp.dirname(__file__), '..', '..', 'configs',
                                   'unet_synthetic.py'))
    root = str(tmp_path / 'data')
    cfg.merge_from_dict({
        'synthetic_data': dict(refer=dict(root=root, mode='refer', num_train=8, num_val=3,
                                          num_test=2, image_size=SIZE, seed=0)),
        'model.data_preprocessor.size': (SIZE, SIZE), 'model.backbone.base_channels': 4,
        'model.decode_head.in_channels': (4, 8, 16, 32, 32),
        'train_dataloader.batch_size': 2, 'train_dataloader.dataset.data_root': root,
        'val_dataloader.dataset.data_root': root, 'test_dataloader.dataset.data_root': root,
        'train_cfg.max_iters': 4, 'train_cfg.val_interval': 2,
        'default_hooks.checkpoint.interval': 100,
        'visualizer.name': f'visualizer_{work}',
    })
    cfg.test_cfg = dict(type='MultiSplitTestLoop', name='refer')
    cfg.work_dir = str(tmp_path / work)
    if not with_hook:
        cfg.custom_hooks = []
    apply_run_defaults(cfg)
    prepare_synthetic_data(cfg)
    return Runner.from_cfg(cfg)


def test_a_training_run_writes_overlays_and_trains_as_without_the_hook(tmp_path):
    runner = _tiny_runner(tmp_path, 'with_hook', with_hook=True)
    runner.train()
    runner.test()
    folder = osp.join(runner.work_dir, runner.timestamp, 'vis_data', 'vis_image')
    names = sorted(osp.basename(p) for p in glob.glob(osp.join(folder, '*.png')))
    val = [f'val_{i:04d}_synth_val_{i:05d}' for i in range(3)]
    test = [f'test_{i:04d}_synth_test_{i:05d}' for i in range(2)]
    assert names == sorted([f'{n}_4.png' for n in test] + [f'{n}_{s}.png' for n in val
                                                            for s in (2, 4)])
    image = cv2.imread(osp.join(folder, names[0]))
    assert image.shape[1] == 2 * (SIZE * SCALE + 4)

    plain = _tiny_runner(tmp_path, 'without_hook', with_hook=False)
    plain.train()
    trained, reference = runner.model.state_dict(), plain.model.state_dict()
    assert trained.keys() == reference.keys()
    for key in trained:
        assert torch.equal(trained[key], reference[key]), key
