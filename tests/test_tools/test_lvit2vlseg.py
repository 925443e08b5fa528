"""The converter maps every used official LViT tensor; lvit_qata.py (text_dims=768) loads them."""
import os.path as osp
import sys

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import vlseg  # noqa: F401

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tools', 'model_converters'))
import lvit2vlseg  # noqa: E402

KEYS = osp.join(REPO, 'tests', 'data', 'official_keys', 'lvit.txt')  # names and shapes only
# What the official LViT registers but never runs (docs/models/lvit.md#parameters-and-flops)
NEVER_RUN = ('upVit.embeddings.', 'upVit3.embeddings.', 'downVit.norm.', 'upVit2.head.',
             'downVit.CTBN.', 'downVit1.CTBN2.', 'downVit2.CTBN3.', 'upVit3.CTBN2.',
             'upVit1.CTBN.', 'upVit.CTBN3.', 'up2.pixModule.conv_sig.', 'pix_module4.')


def _official_state_dict():
    """Random tensors with the official names and shapes, as saved by nn.DataParallel."""
    state = {}
    with open(KEYS) as f:
        for line in f:
            if line.startswith('#') or not line.strip():
                continue
            key, shape, dtype = line.rstrip('\n').split('\t')
            shape = tuple(int(s) for s in shape.strip('()').split(',') if s.strip())
            if dtype == 'int64':
                state['module.' + key] = torch.randint(0, 10, shape)
            else:
                state['module.' + key] = torch.randn(shape)
    return state


def _run(src, dst, monkeypatch, capsys):
    """Runs the converter's command line in-process; returns (exit code, stdout)."""
    monkeypatch.setattr(sys, 'argv', ['lvit2vlseg.py', str(src), str(dst)])
    code = 0
    try:
        lvit2vlseg.main()
    except SystemExit as exit_:
        code = exit_.code
    return code, capsys.readouterr().out


def test_converter_maps_everything_and_config_loads_strictly(tmp_path, monkeypatch, capsys):
    official = _official_state_dict()
    src, dst = tmp_path / 'official.pth', tmp_path / 'vlseg.pth'
    torch.save({'state_dict': official, 'epoch': 3}, src)
    code, out = _run(src, dst, monkeypatch, capsys)
    assert code == 0, out
    assert 'could not be mapped' not in out
    assert 'mapped 338 tensors, dropped 203 (10.03 M values)' in out
    converted = torch.load(dst, weights_only=True)['state_dict']

    init_default_scope('mmseg')
    cfg = Config.fromfile(osp.join(REPO, 'configs/lvit_qata.py'))
    # as documented in the config: the official text_module4 takes 768-d BERT features
    cfg.merge_from_dict({'model.backbone.text_dims': 768, 'model.text_encoder.pretrained': None})
    model = MODELS.build(cfg.model)
    # The checkpoint has no text encoder; everything else is loaded strictly.
    for prefix in ('backbone', 'decode_head'):
        getattr(model, prefix).load_state_dict(
            {k[len(prefix) + 1:]: v for k, v in converted.items() if k.startswith(prefix + '.')},
            strict=True)
    assert all(k.startswith(('backbone.', 'decode_head.')) for k in converted)
    # the inference path of the official LViT-T: 29.9 M parameters
    # (docs/models/lvit.md#parameters-and-flops)
    used = sum(p.numel() for n, p in model.named_parameters() if not n.startswith('text_encoder'))
    assert used == 29_908_033
    # values really moved: spot-check a few mappings
    sd = model.state_dict()
    pairs = {
        'backbone.stem.bn.running_var': 'inc.norm.running_var',
        'backbone.text_convs.3.weight': 'text_module4.weight',
        'backbone.down_vits.0.text_proj.conv.weight': 'downVit.CTBN3.conv.weight',
        'backbone.down_vits.2.embed.pos_embed': 'downVit2.embeddings.position_embeddings',
        'backbone.down_vits.3.token_proj.norm.running_mean': 'downVit3.CTBN.norm.running_mean',
        'backbone.up_vits.2.block.attn.in_proj_weight': 'upVit2.Encoder_blocks.0.attn.qkv.weight',
        'backbone.up_vits.0.block.attn.out_proj.bias': 'upVit.Encoder_blocks.0.attn.proj.bias',
        'backbone.up_vits.1.deeper_proj.conv.weight': 'upVit1.CTBN2.conv.weight',
        'backbone.up_vits.3.block.mlp.fc2.weight': 'upVit3.Encoder_blocks.0.mlp.fc2.weight',
        'backbone.reconstructs.3.norm.weight': 'reconstruct4.norm.weight',
        'decode_head.ups.3.skip_attention.conv_avg.weight': 'up4.pixModule.conv_avg.weight',
        'decode_head.conv_seg.weight': 'outc.weight',
    }
    for ours, theirs in pairs.items():
        torch.testing.assert_close(sd[ours], official['module.' + theirs])


def test_converter_drops_exactly_the_modules_that_never_run():
    state = {k[len('module.'):]: v for k, v in _official_state_dict().items()}
    _, dropped, unmapped = lvit2vlseg.convert(state)
    assert not unmapped
    for prefix in NEVER_RUN:
        assert any(k.startswith(prefix) for k in dropped), prefix
    # and nothing that runs: the level-1 text conv, the CTBNs of the data flow, the text chain
    dropped_by_mistake = [k for k in dropped if k.startswith(
        ('downVit.CTBN3.', 'downVit.embeddings.', 'upVit.CTBN2.', 'downVit1.CTBN.',
         'text_module', 'upVit3.Encoder_blocks.'))]
    assert not dropped_by_mistake


def test_converter_reports_unmapped_keys_and_writes_nothing(tmp_path, monkeypatch, capsys):
    src, dst = tmp_path / 'odd.pth', tmp_path / 'out.pth'
    torch.save({'state_dict': {'inc.conv.weight': torch.zeros(1),
                               'upVit4.CTBN2.conv.weight': torch.zeros(1)}}, src)
    code, out = _run(src, dst, monkeypatch, capsys)
    assert code == 1
    assert 'upVit4.CTBN2.conv.weight' in out and 'inc.conv.weight' not in out
    assert not dst.exists() and list(tmp_path.iterdir()) == [src]
