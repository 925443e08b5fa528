"""GuideDecoder (LanGuideMedSeg) assembled from registered parts: timm's ConvNeXt through MMSeg's
TIMMBackbone, a text encoder, and the GuideDecoder head that reads the text."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmseg.registry import MODELS

from vlseg.apis import SegmentorGraph
from vlseg.models.structures import TextFeatureMaps
from vlseg.utils import text_seg_samples

SIZE = 64
CT = 16
WIDTHS = (8, 16, 32, 64)
MASKS = torch.randint(0, 2, (2, SIZE, SIZE), generator=torch.Generator().manual_seed(0))
REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
TEXTS = ['Unilateral pulmonary infection, one infected area, lower left lung.',
         'Bilateral pulmonary infection, two infected areas, upper left lung and lower right '
         'lung.']


def _tiny_guidedecoder(**head):
    torch.manual_seed(0)
    cfg = dict(
        type='TextGuidedEncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[0.0] * 3, std=[255.0] * 3),
        text_encoder=dict(type='OpenCLIPTextEncoder', model_name='ViT-B-32', context_length=24,
                          pretrained=None, frozen=True, embed_dims=CT,
                          text_cfg=dict(width=32, heads=2, layers=1)),
        backbone=dict(type='TIMMBackbone', model_name='convnext_tiny', features_only=True,
                      pretrained=False, out_indices=(0, 1, 2, 3), dims=WIDTHS,
                      depths=(1, 1, 1, 1)),
        decode_head=dict(type='GuideDecoderHead', in_channels=WIDTHS, channels=4, text_dims=CT,
                         num_text_tokens=24, stage_text_tokens=(24, 12, 9),
                         loss_decode=dict(type='DiceBCELoss', dice_weight=1.0, bce_weight=1.0,
                                          squared_pred=False), **head),
        test_cfg=dict(mode='whole'))
    return MODELS.build(ConfigDict(cfg))


def test_the_head_reads_the_maps_with_the_text(one_thread):
    model = _tiny_guidedecoder().eval()
    feats = model.extract_feat(torch.rand(2, 3, SIZE, SIZE),
                               [s.metainfo for s in text_seg_samples(TEXTS, SIZE)])
    assert isinstance(feats, TextFeatureMaps)
    assert [m.shape[1:] for m in feats.maps] == [(c, SIZE // 2**(i + 2), SIZE // 2**(i + 2))
                                                 for i, c in enumerate(WIDTHS)]
    assert feats.text.feats.shape == (2, 24, CT)


def test_training_step_reaches_every_trainable_parameter(one_thread):
    model = _tiny_guidedecoder(scale_init=0.01)
    losses = model.loss(torch.rand(2, 3, SIZE, SIZE), text_seg_samples(TEXTS, SIZE, MASKS))
    assert {'decode.loss_dice_bce', 'decode.acc_seg'} <= set(losses)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    missing = [n for n, p in model.named_parameters()
               if p.requires_grad and (p.grad is None or not p.grad.any())]
    assert not missing
    assert all(g.scale.grad is not None and g.scale.grad != 0 for g in model.decode_head.guides)
    assert model.text_encoder.frozen
    assert all(p.grad is None for p in model.text_encoder.parameters())


def test_caption_changes_the_prediction_and_predict_shapes(one_thread):
    model = _tiny_guidedecoder().eval()
    x = torch.rand(1, 3, SIZE, SIZE)
    with torch.no_grad():
        a = model(x, text_seg_samples(TEXTS[:1], SIZE), mode='tensor')
        b = model(x, text_seg_samples(TEXTS[1:], SIZE), mode='tensor')
        preds = model(x, text_seg_samples(TEXTS[:1], SIZE), mode='predict')
    assert a.shape == (1, 1, SIZE, SIZE) and preds[0].pred_sem_seg.data.shape == (1, SIZE, SIZE)
    assert not torch.allclose(a, b)


def test_segmentor_graph_gives_the_text_to_the_head(one_thread):
    model = _tiny_guidedecoder().eval()
    x = torch.rand(1, 3, SIZE, SIZE)
    samples = text_seg_samples(TEXTS[1:], SIZE)
    ids, pad_mask = model.text_encoder.tokenize(TEXTS[1:])
    with torch.no_grad():
        expected = model(x, samples, mode='tensor')
        logits, _ = SegmentorGraph(model, text_input='tokens')(x, ids, pad_mask)
    torch.testing.assert_close(logits, expected)


def test_a_text_reading_head_needs_a_text_encoder():
    with pytest.raises(ValueError, match='decode_head accepts text but no text_encoder'):
        MODELS.build(ConfigDict(
            type='TextGuidedEncoderDecoder',
            data_preprocessor=dict(type='SegDataPreProcessor'),
            backbone=dict(type='TIMMBackbone', model_name='convnext_tiny', pretrained=False,
                          dims=WIDTHS, depths=(1, 1, 1, 1)),
            decode_head=dict(type='GuideDecoderHead', in_channels=WIDTHS, channels=4,
                             text_dims=CT, loss_decode=dict(type='DiceBCELoss'))))


def test_synthetic_config_trains_one_step(one_thread):
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'guidedecoder_synthetic.py'))
    model = MODELS.build(cfg.model)
    assert model.text_encoder.embed_dims == model.decode_head.guides[0].text_proj.text_dims == 128
    masks = torch.randint(0, 2, (2, 128, 128))
    losses = model.loss(torch.rand(2, 3, 128, 128), text_seg_samples(TEXTS, 128, masks))
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert all(p.grad is None for p in model.text_encoder.parameters())
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing


def test_with_text_wraps_plain_maps_and_keeps_a_container_that_has_the_text():
    from vlseg.models.segmentors import with_text
    from vlseg.models.structures import FeatureMaps, LanguageFeatures, TextFeatures
    text = TextFeatures(torch.zeros(1, 3, 4), torch.zeros(1, 3, dtype=torch.bool))
    maps = [torch.zeros(1, 2, 4, 4), torch.zeros(1, 4, 2, 2)]
    for feats in (maps, tuple(maps), FeatureMaps(maps=maps)):
        wrapped = with_text(feats, text)
        assert type(wrapped) is TextFeatureMaps and wrapped.text is text
        assert all(a is b for a, b in zip(wrapped.maps, maps))
    language = LanguageFeatures(maps=maps, text=text, refined_text=text.feats)
    assert with_text(language, text) is language and isinstance(language, TextFeatureMaps)


def test_qata_config_reads_the_csv_layout_with_the_code_split(tmp_path, one_thread):
    """guidedecoder_qata.py's datasets on csv files in LanGuideMedSeg's layout: the first
    `num_train` rows of train.csv train, the last `num_val` validate; the zoom runs."""
    from mmseg.registry import DATASETS

    from vlseg.datasets.synthetic import write_dataset
    root = write_dataset(tmp_path / 'synth', num_train=5, num_val=1, num_test=1, image_size=64)
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'guidedecoder_qata.py'))
    assert (cfg.num_train, cfg.num_val) == (5716, 1429) and 5716 + 1429 == 7145
    cfg.train_dataloader.dataset.pipeline[3].prob = 1.0  # always zoom
    sets = {}
    for split, indices in (('train', 3), ('val', -2)):
        dataset_cfg = cfg[f'{split}_dataloader'].dataset
        dataset_cfg.update(data_root=str(root), img_dir='Train_Folder/img',
                           mask_dir='Train_Folder/labelcol', indices=indices)
        sets[split] = DATASETS.build(dataset_cfg)
    names = [osp.basename(sets[s].get_data_info(i)['img_path']) for s in ('train', 'val')
             for i in range(len(sets[s]))]
    assert names == [f'synth_train_{i:05d}.png' for i in (0, 1, 2, 3, 4)]
    sample = sets['train'][0]
    assert tuple(sample['inputs'].shape) == (3, 224, 224)
    assert tuple(sample['data_samples'].gt_sem_seg.data.shape) == (1, 224, 224)
    assert set(sample['data_samples'].gt_sem_seg.data.unique().tolist()) <= {0, 1}
    assert sample['data_samples'].metainfo['text']
