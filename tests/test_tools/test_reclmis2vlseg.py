"""The converter maps every official RecLMIS tensor and reclmis_qata.py loads it strictly."""
import os.path as osp
import subprocess
import sys

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import vlseg  # noqa: F401

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
KEYS = osp.join(REPO, 'tests', 'data', 'official_keys', 'reclmis.txt')  # names and shapes only


def _official_state_dict():
    """Random tensors with the official names and shapes (CLIP visual tower kept tiny: dropped)."""
    state = {}
    with open(KEYS) as f:
        for line in f:
            if line.startswith('#') or not line.strip():
                continue
            key, shape, dtype = line.rstrip('\n').split('\t')
            shape = tuple(int(s) for s in shape.strip('()').split(',') if s.strip())
            if key.startswith('clip.visual.'):
                shape = (1, )
            if dtype == 'int64':
                state['module.' + key] = torch.randint(0, 10, shape)
            else:
                state['module.' + key] = torch.randn(shape)
    return state


def test_converter_maps_everything_and_config_loads_strictly(tmp_path):
    official = _official_state_dict()
    src, dst = tmp_path / 'official.pth', tmp_path / 'vlseg.pth'
    torch.save({'state_dict': official, 'epoch': 3}, src)
    proc = subprocess.run([sys.executable, 'tools/model_converters/reclmis2vlseg.py', str(src),
                           str(dst)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'could not be mapped' not in proc.stdout
    converted = torch.load(dst, weights_only=True)['state_dict']

    init_default_scope('mmseg')
    cfg = Config.fromfile(osp.join(REPO, 'configs/reclmis_qata.py'))
    cfg.model.text_encoder.pretrained = None
    model = MODELS.build(cfg.model)
    model.load_state_dict(converted, strict=True)  # every vlseg tensor is provided
    # values really moved: spot-check a few mappings
    sd = model.state_dict()
    torch.testing.assert_close(sd['backbone.downs.3.convs.1.conv.weight'],
                               official['module.down4.nConvs.1.conv.weight'])
    torch.testing.assert_close(sd['decode_head.ups.3.skip_attention.conv_avg.weight'],
                               official['module.up4.pixModule.conv_avg.weight'])
    torch.testing.assert_close(
        sd['auxiliary_head.1.reconstructor.decoder2.3.cross_attn.in_proj_weight'],
        official['module.rec_text_trans1.decoder2.decoder_layers.3.encoder_attn.in_proj_weight'])
    torch.testing.assert_close(sd['text_encoder.text_tower.positional_embedding'],
                               official['module.clip.positional_embedding'][:18])
    torch.testing.assert_close(sd['neck.interaction.word_weight_mlp.2.weight'],
                               official['module.mlp_woi.2.weight'])


def test_converter_reports_unmapped_keys_and_writes_nothing(tmp_path):
    src, dst = tmp_path / 'odd.pth', tmp_path / 'out.pth'
    torch.save({'state_dict': {'inc.conv.weight': torch.zeros(1), 'mystery.weight': torch.zeros(1)}},
               src)
    proc = subprocess.run([sys.executable, 'tools/model_converters/reclmis2vlseg.py', str(src),
                           str(dst)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert 'mystery.weight' in proc.stdout
    assert not dst.exists()
