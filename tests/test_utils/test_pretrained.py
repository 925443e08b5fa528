"""The ``pretrained`` keys: strip_pretrained clears them, require_pretrained_file checks one."""
import pytest
from mmengine.config import Config

from vlseg.utils import require_pretrained_file, strip_pretrained


def test_strip_pretrained_reaches_every_level():
    cfg = Config(dict(model=dict(
        type='TextGuidedEncoderDecoder', pretrained='a.pth',
        text_encoder=dict(type='CLIPTextEncoder', pretrained='clip.pt', frozen=True),
        backbone=dict(type='LanguageSwin', init_cfg=dict(type='Pretrained', checkpoint='b.pth')),
        auxiliary_head=[dict(type='X', pretrained='c.pth'), dict(type='Y', channels=4)],
        stages=(dict(pretrained='d.pth'), ))))
    strip_pretrained(cfg.model)
    model = cfg.model
    assert model.pretrained is None
    assert model.text_encoder.pretrained is None and model.text_encoder.frozen is True
    assert model.auxiliary_head[0].pretrained is None
    assert model.auxiliary_head[1] == dict(type='Y', channels=4)
    assert model.stages[0].pretrained is None
    # only keys named ``pretrained``: an init_cfg checkpoint is left as it is
    assert model.backbone.init_cfg.checkpoint == 'b.pth'


def test_require_pretrained_file_names_the_path_and_what_to_set(tmp_path):
    path = tmp_path / 'weights.pth'
    with pytest.raises(FileNotFoundError) as info:
        require_pretrained_file(path, 'LanguageSwin', 'a local Swin checkpoint')
    message = str(info.value)
    assert message.startswith(f'LanguageSwin: the file given as pretrained={str(path)!r} does '
                              'not exist')
    assert 'a local Swin checkpoint, or to None' in message
    path.write_bytes(b'')
    assert require_pretrained_file(path, 'LanguageSwin', 'x') == str(path)
