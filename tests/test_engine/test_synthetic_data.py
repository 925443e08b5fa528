"""prepare_synthetic_data writes missing synthetic datasets and refuses stale ones."""
import os

import pytest
from mmengine.config import Config

from vlseg.engine import prepare_synthetic_data


def _cfg(root, **overrides):
    spec = dict(root=str(root), mode='refer', num_train=2, num_val=1, num_test=1,
                image_size=32, seed=0)
    spec.update(overrides)
    return Config(dict(synthetic_data=dict(refer=spec)))


def test_writes_a_missing_dataset_once(tmp_path):
    root = tmp_path / 'refer'
    assert prepare_synthetic_data(_cfg(root)) == [str(root)]
    assert len(os.listdir(root / 'Train_Folder' / 'img')) == 2
    mtime = os.path.getmtime(root / 'meta.json')
    assert prepare_synthetic_data(_cfg(root)) == []  # same arguments: reused as is
    assert os.path.getmtime(root / 'meta.json') == mtime


def test_refuses_a_dataset_written_with_other_arguments(tmp_path):
    root = tmp_path / 'refer'
    prepare_synthetic_data(_cfg(root))
    with pytest.raises(ValueError, match=r"num_train=2 on disk, 5 in the config") as err:
        prepare_synthetic_data(_cfg(root, num_train=5))
    assert str(root) in str(err.value) and 'synthetic_data.refer' in str(err.value)
    assert len(os.listdir(root / 'Train_Folder' / 'img')) == 2  # left untouched
    with pytest.raises(ValueError, match=r"contrast=2\.5 on disk, 4\.0 in the config"):
        prepare_synthetic_data(_cfg(root, contrast=4.0))


def test_refuses_a_folder_that_is_not_a_synthetic_dataset(tmp_path):
    root = tmp_path / 'refer'
    root.mkdir()
    with pytest.raises(ValueError, match='has no meta.json'):
        prepare_synthetic_data(_cfg(root))
