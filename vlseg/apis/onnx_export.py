"""Exporting a segmentor's inference path to ONNX and running the file with ONNX Runtime."""
import logging
import os
import warnings
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.logging import print_log
from torch import Tensor

from .segmentor_graph import SegmentorGraph

try:
    import onnxruntime
except ImportError:  # the 'deploy' extra
    onnxruntime = None

__all__ = ['EXPORTERS', 'OnnxSegmentor', 'example_inputs', 'export_onnx']

#: Values of ``export_onnx(exporter=...)``: torch's dynamo-based exporter (``torch.export``
#: and onnxscript, torch's default) and the TorchScript-based one (``dynamo=False``).
EXPORTERS = ('dynamo', 'torchscript')
#: Captions of the example inputs the graph is traced with (two, so that the batch size stays
#: symbolic: torch.export specialises a size of 1).
EXAMPLE_CAPTIONS = ('Bilateral pulmonary infection, two infected areas, lower left lung and '
                    'lower right lung.',
                    'Unilateral pulmonary infection, one infected area, upper right lung.')


def _need_onnxruntime() -> None:
    if onnxruntime is None:
        raise ImportError('onnxruntime is not installed: pip install -e ".[deploy]" '
                          '(onnx, onnxruntime, onnxscript)')


def example_inputs(graph: SegmentorGraph, image_size: Tuple[int, int],
                   captions: Sequence[str] = EXAMPLE_CAPTIONS,
                   generator: Optional[torch.Generator] = None) -> Tuple[Tensor, ...]:
    """Inputs for ``graph``: random images in the range its ``image`` input expects and the
    captions as its text input.

    Args:
        graph: The graph.
        image_size: (H, W), the network input size.
        captions: B captions (B images); tokenised by the model's text encoder, and encoded by
            it for ``text_input='features'``.
        generator: For the random images.

    Returns:
        ``(image,)`` for a text-free model, else ``(image, text, pad_mask)`` (see
        :class:`SegmentorGraph`), on the model's device.
    """
    device = next(graph.model.parameters()).device
    scale = 255.0 if graph.normalize else 1.0
    image = torch.rand(len(captions), 3, *image_size, generator=generator) * scale
    image = image.to(device)  # (B, 3, H, W)
    if not graph.has_text:
        return (image, )
    encoder = graph.model.text_encoder
    if graph.text_input == 'tokens':
        ids, pad_mask = encoder.tokenize(list(captions))  # (B, L) each
        return image, ids.to(device), pad_mask.to(device)
    with torch.no_grad():
        text = encoder(list(captions))
    return image, text.feats, text.pad_mask


def export_onnx(graph: SegmentorGraph, file: Union[str, os.PathLike],
                image_size: Tuple[int, int], exporter: str = 'dynamo',
                fallback: bool = True) -> str:
    """Exports ``graph`` to an ONNX file with a dynamic batch size.

    The inputs are named by :attr:`SegmentorGraph.input_names`, the outputs ``logits`` and
    ``probs``; H and W are fixed at ``image_size`` (RecLMIS's position table fixes them
    anyway). The weights are stored inside the file (no external data file). The
    TorchScript-based exporter drops an input that the graph does not read (RecLMIS's image
    path does not read ``pad_mask`` when given text features); :class:`OnnxSegmentor` feeds
    only the inputs a file declares.

    Args:
        graph: The graph, its model in eval mode.
        file: The output file.
        image_size: (H, W) of the network input.
        exporter: ``'dynamo'`` (``torch.onnx.export(dynamo=True)``, needs onnxscript) or
            ``'torchscript'`` (``dynamo=False``).
        fallback: When the dynamo exporter fails, log its error and export with the
            TorchScript one.

    Returns:
        The exporter that wrote the file.

    Raises:
        ValueError: An unknown exporter.
    """
    if exporter not in EXPORTERS:
        raise ValueError(f'exporter must be one of {EXPORTERS}, got {exporter!r}')
    file = os.fspath(file)
    args = example_inputs(graph, image_size)
    names = list(graph.input_names)
    common = dict(input_names=names, output_names=['logits', 'probs'])
    graph.eval()
    if exporter == 'dynamo':
        batch = torch.export.Dim('batch', min=1, max=1024)
        # onnxscript's optimizer logs a warning for every Split it does not constant-fold
        optimizer_log = logging.getLogger('onnxscript.optimizer')
        level = optimizer_log.level
        optimizer_log.setLevel(logging.ERROR)
        try:
            with torch.no_grad(), warnings.catch_warnings():
                # one Dim for every input's batch axis: torch warns that it names it once
                warnings.filterwarnings('ignore', message='# The axis name')
                torch.onnx.export(graph, args, file, dynamo=True, external_data=False,
                                  dynamic_shapes=tuple({0: batch} for _ in args),
                                  verbose=False, **common)
            return 'dynamo'
        except Exception as error:  # noqa: BLE001 - any exporter failure falls back
            if not fallback:
                raise
            print_log(f'export_onnx: the dynamo exporter failed ({type(error).__name__}: '
                      f'{str(error)[:500]}); exporting with dynamo=False',
                      logger='current', level=logging.WARNING)
        finally:
            optimizer_log.setLevel(level)
    with torch.no_grad(), warnings.catch_warnings():
        # the tracer warns at every Python bool taken from a shape (the checks of the layers)
        warnings.simplefilter('ignore', torch.jit.TracerWarning)
        torch.onnx.export(graph, args, file, dynamo=False,
                          dynamic_axes={name: {0: 'batch'} for name in names}, **common)
    return 'torchscript'


class OnnxSegmentor:
    """An exported :class:`SegmentorGraph` in an ONNX Runtime session on the CPU.

    Args:
        file: The ONNX file (from :func:`export_onnx` or ``tools/deploy/export_onnx.py``).
        num_threads: Intra-op threads; None: PyTorch's (``torch.get_num_threads()``, which
            ``OMP_NUM_THREADS`` sets); 0: ONNX Runtime's choice (one per physical core).

    Raises:
        ImportError: onnxruntime is not installed.
        FileNotFoundError: No such file.
    """

    def __init__(self, file: Union[str, os.PathLike], num_threads: Optional[int] = None) -> None:
        _need_onnxruntime()
        file = os.fspath(file)
        if not os.path.isfile(file):
            raise FileNotFoundError(f'no such ONNX file: {file}')
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = (torch.get_num_threads() if num_threads is None
                                        else num_threads)
        self.file = file
        self.session = onnxruntime.InferenceSession(file, sess_options=options,
                                                    providers=['CPUExecutionProvider'])
        self.input_names: List[str] = [i.name for i in self.session.get_inputs()]

    def run(self, inputs: Dict[str, Union[np.ndarray, Tensor]]) -> Tuple[np.ndarray, np.ndarray]:
        """Runs the file on named inputs (names it does not declare are left out).

        Args:
            inputs: ``image`` and, for a text-guided model, ``token_ids`` or
                ``text_features``, and ``pad_mask``; arrays or CPU tensors.

        Returns:
            ``(logits, probs)``, each (B, K, H, W) float32.

        Raises:
            ValueError: An input the file needs is missing.
        """
        missing = [name for name in self.input_names if name not in inputs]
        if missing:
            raise ValueError(f'{self.file} needs the inputs {missing} (it takes '
                             f'{self.input_names}), got {sorted(inputs)}')
        feed = {}
        for name in self.input_names:
            value = inputs[name]
            feed[name] = value.detach().cpu().numpy() if isinstance(value, Tensor) else value
        logits, probs = self.session.run(['logits', 'probs'], feed)
        return logits, probs

