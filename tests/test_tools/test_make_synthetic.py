"""Tests for tools/make_synthetic.py."""
import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np

from vlseg.datasets import synthetic as syn
from vlseg.datasets.synthetic import generate_sample


def _load_cli():
    """Imports tools/make_synthetic.py in-process (a subprocess would re-import torch: slow)."""
    path = Path(__file__).resolve().parents[2] / 'tools' / 'make_synthetic.py'
    spec = importlib.util.spec_from_file_location('make_synthetic', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli(tmp_path, capsys):
    cli = _load_cli()
    out = tmp_path / 'cli'
    argv = [str(out), '--mode', 'describe', '--num-train', '2', '--num-val', '1', '--num-test',
            '1', '--image-size', '64', '--seed', '5', '--contrast', '2', '--noise', '6',
            '--lesion-size', '0.05', '0.07', '--max-lesions', '2']
    assert cli.main(argv) == 0
    stdout = capsys.readouterr().out
    assert str(out) in stdout and '2 train, 1 val, 1 test' in stdout
    meta = json.loads((out / 'meta.json').read_text())
    assert meta['params'] == dict(mode='describe', seed=5, image_size=64, num_train=2, num_val=1,
                                  num_test=1, contrast=2.0, noise=6.0, lesion_size=[0.05, 0.07],
                                  max_lesions=2, max_distractors=syn.DEFAULT_MAX_DISTRACTORS)
    sample = generate_sample(5, 'train', 1, mode='describe', image_size=64, contrast=2.0,
                             noise=6.0, lesion_size=(0.05, 0.07), max_lesions=2)
    image = cv2.imread(str(out / 'Train_Folder' / 'img' / 'synth_train_00001.png'),
                       cv2.IMREAD_UNCHANGED)
    assert np.array_equal(image, sample.image)
    # Refuses to overwrite without --overwrite, replaces with it.
    assert cli.main(argv) == 2
    assert 'exists' in capsys.readouterr().err
    assert cli.main(argv[:1] + ['--num-train', '1', '--overwrite']) == 0
    assert len(json.loads((out / 'meta.json').read_text())['files']['train']) == 1
