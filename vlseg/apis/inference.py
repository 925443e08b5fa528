"""Running a loaded segmentor on images and captions: masks, probabilities and, for RecLMIS,
the interest weights."""
import copy
import logging
import os
import os.path as osp
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
from mmcv.transforms import LoadAnnotations
from mmengine.dataset import Compose
from mmengine.logging import print_log
from mmseg.registry import TRANSFORMS
from torch import nn

from ..models.layers.checks import check_positive_int
from .interest_weights import interest_weights, patch_weight_map, token_strings

__all__ = ['InferenceResult', 'inference_model']

ImageInput = Union[str, os.PathLike, np.ndarray]


@dataclass(frozen=True, eq=False)  # eq: arrays have no single truth value
class InferenceResult:
    """What :func:`inference_model` gives for one image and caption.

    Attributes:
        mask: (H, W) uint8 in {0, 1} at the image's size: the model's thresholded prediction
            (sigmoid > the decode head's ``threshold``), as the evaluation scores it.
        prob: (H, W) float32 sigmoid probabilities at the image's size.
        caption: The caption the model read.
        patch_weights: (H, W) float32, RecLMIS's patches-of-interest weights W_poi (a softmax
            over the bottleneck patches) resized bilinearly to the image; None for a model
            without them.
        word_weights: (L,) float32, RecLMIS's words-of-interest weights W_woi (a softmax over
            the caption's tokens, exactly 0 at padding); None for a model without them.
        tokens: L token strings aligned with ``word_weights`` ('' at padding), from the text
            encoder's tokenizer; None when ``word_weights`` is None (or the text encoder has
            no ``token_strings``).
    """

    mask: np.ndarray
    prob: np.ndarray
    caption: str
    patch_weights: Optional[np.ndarray] = None
    word_weights: Optional[np.ndarray] = None
    tokens: Optional[List[str]] = None


def _as_lists(images: Union[ImageInput, Sequence[ImageInput]],
              captions: Union[str, Sequence[str]]) -> Tuple[List[ImageInput], List[str]]:
    """Checks the inputs; one list of images and one of captions of the same length."""
    if isinstance(images, (str, os.PathLike, np.ndarray)):
        images = [images]
    elif isinstance(images, Sequence):
        images = list(images)
    else:
        raise ValueError(f'images must be a path, a numpy array or a list of them, got '
                         f'{type(images).__name__}')
    if isinstance(captions, str):
        captions = [captions]
    elif isinstance(captions, Sequence):
        captions = list(captions)
    else:
        raise ValueError(f'captions must be a str or a list of str, got {type(captions).__name__}')
    if not images:
        raise ValueError('images is empty: give at least one image')
    if len(captions) != len(images):
        raise ValueError(f'got {len(images)} images and {len(captions)} captions: give one '
                         'caption per image')
    for i, (image, caption) in enumerate(zip(images, captions)):
        if isinstance(image, np.ndarray):
            if image.dtype != np.uint8 or not (image.ndim == 2 or
                                               (image.ndim == 3 and image.shape[2] == 3)):
                raise ValueError(f'images[{i}] must be an (H, W) or (H, W, 3) uint8 array, got '
                                 f'{image.dtype} of shape {image.shape}')
        elif isinstance(image, (str, os.PathLike)):
            if not osp.isfile(image):
                raise FileNotFoundError(f'images[{i}]: no such file: {os.fspath(image)}')
        else:
            raise ValueError(f'images[{i}] must be a path or a numpy array, got '
                             f'{type(image).__name__}')
        if not isinstance(caption, str) or not caption.strip():
            raise ValueError(f'captions[{i}] must be a non-empty string, got {caption!r}')
    return images, captions


def _loads_annotations(step: dict) -> bool:
    cls = step['type'] if isinstance(step['type'], type) else TRANSFORMS.get(step['type'])
    return isinstance(cls, type) and issubclass(cls, LoadAnnotations)


def _pipelines(cfg) -> Tuple[Compose, Compose, str]:
    """The config's test pipeline without annotation loading: for files, for arrays, and the
    colour type its loader reads images with."""
    dataset = cfg.get('test_dataloader', {}).get('dataset', {})
    steps = dataset.get('pipeline', cfg.get('test_pipeline'))
    if not steps:
        raise ValueError('the model\'s config has no test pipeline (test_dataloader.dataset.'
                         'pipeline or test_pipeline)')
    steps = [copy.deepcopy(step) for step in steps if not _loads_annotations(step)]
    loader = steps[0]
    if loader['type'] not in ('LoadImageFromFile', 'mmseg.LoadImageFromFile'):
        raise ValueError(f'the test pipeline must start with LoadImageFromFile, got '
                         f'{loader["type"]}')
    from_array = [dict(loader, type='LoadImageFromNDArray')] + steps[1:]
    return (Compose([TRANSFORMS.build(step) for step in steps]),
            Compose([TRANSFORMS.build(step) for step in from_array]),
            loader.get('color_type', 'color'))


def _as_loaded(image: np.ndarray, color_type: str) -> np.ndarray:
    """An array as the pipeline's loader would read it from a file: BGR for ``'color'``."""
    if color_type == 'color' and image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if color_type == 'grayscale' and image.ndim == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return image


def _size_key(item: dict) -> tuple:
    return tuple(item['inputs'].shape), tuple(item['data_samples'].metainfo['ori_shape'])


def _run_batch(model: nn.Module, batch: List[dict],
               captions: List[str]) -> List[InferenceResult]:
    data = dict(inputs=[item['inputs'] for item in batch],
                data_samples=[item['data_samples'] for item in batch])
    with torch.no_grad(), interest_weights(model) as captured:
        samples = model.test_step(data)
    features = captured[0] if len(captured) == 1 else None
    if len(captured) > 1:
        print_log(f'inference_model: the interaction ran {len(captured)} times for one batch '
                  '(sliding-window inference?); interest weights are not given',
                  logger='current', level=logging.WARNING)
    results = []
    for i, (sample, caption) in enumerate(zip(samples, captions)):
        prob = sample.seg_logits.data  # (1, H, W), the sigmoid for a one-channel head
        if prob.shape[0] != 1:
            raise ValueError(f'inference_model supports one-channel (binary) decode heads; '
                             f'{type(model.decode_head).__name__} gives {prob.shape[0]}')
        fields = {}
        if features is not None and features.patch_weights is not None:
            fields['patch_weights'] = patch_weight_map(
                features.patch_weights[i], tuple(features.maps[-1].shape[-2:]), sample.metainfo,
                align_corners=getattr(model, 'align_corners', False))
        if features is not None and features.word_weights is not None:
            word_weights = features.word_weights[i].detach().float().cpu()  # (L,)
            word_weights[features.text.pad_mask[i].cpu()] = 0.0
            fields['word_weights'] = word_weights.numpy()
            fields['tokens'] = token_strings(getattr(model, 'text_encoder', None), caption,
                                             len(word_weights))
        results.append(InferenceResult(
            mask=sample.pred_sem_seg.data[0].cpu().numpy().astype(np.uint8),
            prob=prob[0].float().cpu().numpy(), caption=caption, **fields))
    return results


def inference_model(model: nn.Module,
                    images: Union[ImageInput, Sequence[ImageInput]],
                    captions: Union[str, Sequence[str]],
                    batch_size: int = 8) -> List[InferenceResult]:
    """Segments images, each with its caption, as the evaluation does.

    Each image goes through the config's test pipeline (``model.cfg``, from
    :func:`~vlseg.apis.init_model`) without annotation loading, so the preprocessing equals the
    evaluation's, then through ``model.test_step`` in batches of ``batch_size`` images of the
    same network input size; MMSeg brings the predictions back to each image's size. For
    RecLMIS the same forward pass gives the interest weights (:func:`interest_weights`). A
    frozen text encoder encodes each distinct caption once and keeps it in its cache across
    calls.

    Args:
        model: A segmentor from :func:`~vlseg.apis.init_model`, in eval mode.
        images: An image file, an (H, W) or (H, W, 3) uint8 array (BGR, as ``cv2.imread``
            gives; a grey array is read as the file loader would read a grey file), or a list
            of them.
        captions: One caption per image (a str for one image).
        batch_size: Images per forward pass.

    Returns:
        One :class:`InferenceResult` per image, in order.

    Raises:
        ValueError: A bad image, caption (naming its index) or batch size, or a model without
            a config.
    """
    images, captions = _as_lists(images, captions)
    check_positive_int('batch_size', batch_size)
    if getattr(model, 'cfg', None) is None:
        raise ValueError('the model has no cfg (its config): build it with '
                         'vlseg.apis.init_model')
    from_file, from_array, color_type = _pipelines(model.cfg)
    results: List[InferenceResult] = []
    batch: List[dict] = []
    batch_captions: List[str] = []
    for image, caption in zip(images, captions):
        if isinstance(image, np.ndarray):
            item = from_array(dict(img=_as_loaded(image, color_type), text=caption))
        else:
            item = from_file(dict(img_path=os.fspath(image), text=caption))
        # one input size per batch (the data preprocessor stacks them) and one original size
        # (MMSeg warns about a batch of several)
        if batch and (len(batch) == batch_size or _size_key(item) != _size_key(batch[0])):
            results.extend(_run_batch(model, batch, batch_captions))
            batch, batch_captions = [], []
        batch.append(item)
        batch_captions.append(caption)
    results.extend(_run_batch(model, batch, batch_captions))
    return results
