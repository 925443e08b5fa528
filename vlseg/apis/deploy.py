"""Deploy mode for inference: conv + BatchNorm folding, and ONNX Runtime as the backend of
``model.test_step`` (:func:`deploy_model`)."""
import logging
import os
import tempfile
from typing import List, Optional, Tuple

import torch
from mmcv.cnn import ConvModule
from mmengine.logging import print_log
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd
from torch.nn.utils.fusion import fuse_conv_bn_eval

from ..models.layers import ConvNormAct
from .onnx_export import OnnxSegmentor, export_onnx
from .segmentor_graph import SegmentorGraph

__all__ = ['BACKENDS', 'OnnxRuntimeEncodeDecode', 'deploy_model', 'fold_conv_bn',
           'network_input_size']

#: Values of ``deploy_model(backend=...)``.
BACKENDS = ('eager', 'onnxruntime')


def _foldable(bn: nn.Module) -> bool:
    """A BatchNorm that uses running statistics in eval mode."""
    return isinstance(bn, _BatchNorm) and bn.running_mean is not None


def _conv_bn_pairs(parent: nn.Module) -> List[Tuple[str, str]]:
    """(conv name, BN name) of the children of ``parent`` where the BN reads the conv's output
    and nothing else does.

    Only containers whose forward order is known are read (their own ``forward``, not a
    subclass's): an ``nn.Sequential`` (adjacent children), vlseg's
    :class:`~vlseg.models.layers.ConvNormAct` and MMCV's ``ConvModule`` with ``'norm'`` right
    after ``'conv'`` in its ``order`` (called with its default ``norm=True``). The order in
    which another module registers its children says nothing about the order its forward runs
    them in (MMCV's ``fuse_conv_bn`` assumes it does, and folds only ``Conv2d``), so no other
    module's children are paired. A BN without running statistics
    (``track_running_stats=False``) normalises with the batch's and is never paired.
    """
    forward = type(parent).forward
    if forward is nn.Sequential.forward:
        names = list(parent._modules)
        return [(a, b) for a, b in zip(names, names[1:])
                if isinstance(parent._modules[a], _ConvNd) and _foldable(parent._modules[b])]
    if forward is ConvNormAct.forward and _foldable(parent.norm):
        return [('conv', parent.norm_name)]
    if (forward is ConvModule.forward and parent.with_norm and _foldable(parent.norm)
            and isinstance(parent.conv, _ConvNd)):
        order = list(parent.order)
        if order.index('norm') == order.index('conv') + 1:
            return [('conv', parent.norm_name)]
    return []


def fold_conv_bn(model: nn.Module) -> List[str]:
    """Folds every BatchNorm that directly follows a convolution into it, in place.

    Each conv of a pair (see :func:`_conv_bn_pairs` for the pairs recognised; any
    ``Conv1d/2d/3d`` or transposed conv with any ``BatchNorm``) is replaced by
    ``torch.nn.utils.fusion.fuse_conv_bn_eval``'s copy, whose weight is scaled by
    ``gamma / sqrt(running_var + eps)`` and whose bias absorbs the running mean and
    ``beta``; the BN becomes ``nn.Identity``. The output is unchanged up to float rounding. The
    folded model is for inference only: it has no BN statistics to train, and its state dict
    has other keys (the BNs' are gone, the convs have biases), so load checkpoints before
    folding. A BN left (after something other than a conv, inside a module whose forward
    order is not known, or without running statistics) is named in a warning.

    Args:
        model: A model in eval mode (every BN uses its running statistics).

    Returns:
        The qualified names of the folded BatchNorm modules.

    Raises:
        ValueError: A conv or BN of a pair is in training mode, or a BN has another width
            than its conv's output.
    """
    folded: List[str] = []
    for prefix, parent in list(model.named_modules()):
        for conv_name, bn_name in _conv_bn_pairs(parent):
            conv, bn = parent._modules[conv_name], parent._modules[bn_name]
            where = f'{prefix}.{bn_name}' if prefix else bn_name
            if conv.training or bn.training:
                raise ValueError(f'fold_conv_bn: {where} is in training mode; call model.eval() '
                                 'first (folding uses the running statistics)')
            if bn.num_features != conv.out_channels:
                raise ValueError(f'fold_conv_bn: {where} has num_features={bn.num_features}, '
                                 f'but its conv has {conv.out_channels} output channels')
            parent._modules[conv_name] = fuse_conv_bn_eval(conv, bn,
                                                           transpose=bool(conv.transposed))
            parent._modules[bn_name] = nn.Identity()
            folded.append(where)
    left = [name for name, module in model.named_modules() if isinstance(module, _BatchNorm)]
    if left:
        print_log(f'fold_conv_bn: {len(left)} BatchNorm modules are not directly after a conv '
                  f'in a known container and were not folded: {", ".join(left[:10])}',
                  logger='current', level=logging.WARNING)
    return folded


class OnnxRuntimeEncodeDecode:
    """Stands in for a segmentor's ``encode_decode``: its image path runs in ONNX Runtime.

    The model's :class:`SegmentorGraph` with text features is exported to ONNX once, at
    construction, for network inputs of ``image_size``, and loaded in an ONNX Runtime session
    on the CPU. On each call the captions are encoded by the model's own text encoder in
    PyTorch (a frozen one keeps each caption's features in its cache) and the rest runs in the
    session. MMSeg's ``predict`` and post-processing around it are unchanged.

    Args:
        model: The segmentor, on the CPU, in eval mode (folded or not).
        image_size: (H, W) of the network input (after the test pipeline's resize and the
            data preprocessor's padding).
        exporter: See :func:`~vlseg.apis.export_onnx`.
        num_threads: ONNX Runtime's intra-op threads (see :class:`OnnxSegmentor`).
    """

    def __init__(self, model: nn.Module, image_size: Tuple[int, int], exporter: str = 'dynamo',
                 num_threads: Optional[int] = None) -> None:
        self.graph = SegmentorGraph(model, text_input='features', normalize=False)
        self.image_size = tuple(image_size)
        with tempfile.TemporaryDirectory() as tmp:
            file = os.path.join(tmp, 'model.onnx')
            self.exporter = export_onnx(self.graph, file, self.image_size, exporter=exporter)
            self.session = OnnxSegmentor(file, num_threads=num_threads)
        print_log(f'deploy_model: the image path at {self.image_size[0]}x{self.image_size[1]} '
                  f'runs in ONNX Runtime (exported with the {self.exporter} exporter)',
                  logger='current')

    def __call__(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        """(B, 3, H, W) preprocessed images and their metainfo -> (B, K, H, W) logits.

        Raises:
            ValueError: The images are not of the exported size.
        """
        if tuple(inputs.shape[2:]) != self.image_size:
            raise ValueError(f'the ONNX Runtime backend was exported for {self.image_size[0]}x'
                             f'{self.image_size[1]} network inputs, got {inputs.shape[2]}x'
                             f'{inputs.shape[3]}: deploy with image_size=({inputs.shape[2]}, '
                             f'{inputs.shape[3]}) or use backend="eager"')
        named = {'image': inputs}
        if self.graph.has_text:
            text = self.graph.model.encode_text(batch_img_metas)
            named.update(text_features=text.feats, pad_mask=text.pad_mask)
        logits, _ = self.session.run(named)
        return torch.from_numpy(logits).to(inputs.device)


def network_input_size(model: nn.Module) -> Optional[Tuple[int, int]]:
    """The data preprocessor's ``size`` (H, W), or None.

    That is the size training pads the images to; every config of ``configs/`` also feeds
    the network test images of that size (by its test pipeline's ``Resize`` or by the
    dataset's image size).
    """
    size = getattr(getattr(model, 'data_preprocessor', None), 'size', None)
    return (int(size[0]), int(size[1])) if size else None


def deploy_model(model: nn.Module, backend: str = 'eager',
                 image_size: Optional[Tuple[int, int]] = None, exporter: str = 'dynamo',
                 num_threads: Optional[int] = None) -> nn.Module:
    """Prepares a segmentor for fast inference, in place.

    The model goes to eval mode and its conv + BatchNorm pairs are folded
    (:func:`fold_conv_bn`); a frozen text encoder keeps the features it has cached. With
    ``backend='onnxruntime'`` the image path of ``model.test_step`` (and so of
    :func:`~vlseg.apis.inference_model`) then runs in ONNX Runtime: the path is exported now
    for one network input size and ``model.encode_decode`` is replaced on the instance by an
    :class:`OnnxRuntimeEncodeDecode` (so the model can no longer be deep-copied or pickled).
    ONNX Runtime does not run the PyTorch neck, so RecLMIS's interest weights are not given
    (``InferenceResult.patch_weights``, ``word_weights`` and ``tokens`` are None).

    Args:
        model: A segmentor, e.g. from :func:`~vlseg.apis.init_model` (load weights first).
        backend: ``'eager'`` (PyTorch, folded) or ``'onnxruntime'`` (CPU only).
        image_size: For ``'onnxruntime'``: (H, W) of the network input; defaults to
            :func:`network_input_size`.
        exporter: For ``'onnxruntime'``: ``'dynamo'`` (falls back to ``'torchscript'`` when
            it fails) or ``'torchscript'``.
        num_threads: For ``'onnxruntime'``: intra-op threads; None: as many as PyTorch uses
            (``torch.get_num_threads()``, which ``OMP_NUM_THREADS`` sets); 0: one per
            physical core. On a machine that other processes share, 1 can be the fastest.

    Returns:
        The same model.

    Raises:
        ValueError: An unknown backend; for ``'onnxruntime'``, a model not on the CPU or no
            ``image_size`` known.
    """
    if backend not in BACKENDS:
        raise ValueError(f'backend must be one of {BACKENDS}, got {backend!r}')
    if backend == 'onnxruntime':
        device = next(model.parameters()).device
        if device.type != 'cpu':
            raise ValueError(f'backend="onnxruntime" runs on the CPU, but the model is on '
                             f'{device}: use backend="eager"')
        image_size = image_size or network_input_size(model)
        if image_size is None:
            raise ValueError('backend="onnxruntime" needs image_size=(H, W): the model\'s '
                             'data preprocessor has no size')
    model.eval()
    fold_conv_bn(model)
    if backend == 'onnxruntime':
        model.encode_decode = OnnxRuntimeEncodeDecode(model, image_size, exporter=exporter,
                                                      num_threads=num_threads)
    return model
