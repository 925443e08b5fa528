"""Export a trained model's inference path to ONNX, check it with ONNX Runtime and time it.

    python tools/deploy/export_onnx.py CONFIG CKPT OUT.onnx [--text-features]

The file takes the image as the test pipeline gives it (float32 (N, 3, H, W), 0-255, BGR as
cv2 loads it, resized to the network input size; the data preprocessor's normalisation is
inside) and the caption as token ids and padding mask (the text encoder inside) or, with
--text-features, as the text encoder's features. It gives the logits and the probabilities
(N, 1, H, W) at the network input size. Needs the 'deploy' extra (pip install -e ".[deploy]").

After the export the file is loaded with ONNX Runtime and run on a random image and a real
caption; the largest difference of its probabilities from PyTorch's (the model before the
conv-BN folding) is printed, and the run fails above --atol. Then ONNX Runtime and PyTorch
(folded) are timed alternately at batch 1.
"""
import argparse
import logging
import statistics
import time
from typing import Callable, Dict, List, Optional

import onnx
import torch
from mmengine.logging import print_log

from vlseg.apis import (EXPORTERS, OnnxSegmentor, SegmentorGraph, add_model_args,
                        example_inputs, export_onnx, fold_conv_bn, init_model_from_args,
                        network_input_size)

CAPTION = 'Bilateral pulmonary infection, two infected areas, lower left lung and lower right lung.'


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_args(parser)  # config, checkpoint, --device, --non-strict, ...
    parser.add_argument('out', help='the ONNX file to write')
    parser.add_argument('--text-features', action='store_true',
                        help='take the text encoder\'s features instead of token ids (the text '
                        'tower runs once per caption elsewhere)')
    parser.add_argument('--exporter', choices=EXPORTERS, default='dynamo',
                        help='torch.onnx.export(dynamo=True) (default; falls back to the '
                        'torchscript exporter if it fails) or dynamo=False')
    parser.add_argument('--image-size', type=int, nargs=2, metavar=('H', 'W'),
                        help='network input size (default: the data preprocessor\'s size)')
    parser.add_argument('--caption', default=CAPTION, help='caption of the check')
    parser.add_argument('--atol', type=float, default=1e-4,
                        help='largest difference of the probabilities allowed (default 1e-4)')
    parser.add_argument('--repeat', type=int, default=20,
                        help='timed calls of each backend (0: no timing)')
    args = parser.parse_args(argv)
    if args.device != 'cpu':
        parser.error(f'the check runs ONNX Runtime on the CPU: --device must be cpu, got '
                     f'{args.device}')
    if args.repeat < 0:
        parser.error(f'--repeat must be >= 0, got {args.repeat}')
    return args


def add_metadata(file: str, graph: SegmentorGraph, config: str,
                 image_size: tuple) -> None:
    """Writes how to feed the file into its ``metadata_props`` (``vlseg.*`` keys)."""
    model = onnx.load(file)
    head = graph.model.decode_head
    props: Dict[str, str] = {
        'vlseg.config': config,
        'vlseg.image': f'float32 (N, 3, {image_size[0]}, {image_size[1]}), 0-255, the test '
                       'pipeline\'s channel order (BGR for cv2), normalised inside',
        'vlseg.outputs': 'logits, probs: (N, K, H, W); probs = sigmoid(logits) for K = 1',
        'vlseg.threshold': str(getattr(head, 'threshold', None)),
    }
    if graph.has_text:
        encoder = graph.model.text_encoder
        props['vlseg.text_input'] = graph.text_input
        props['vlseg.text_encoder'] = type(encoder).__name__
        props['vlseg.context_length'] = str(getattr(encoder, 'context_length', ''))
    onnx.helper.set_model_props(model, props)
    onnx.save(model, file)


def time_alternately(fns: Dict[str, Callable[[], object]], repeat: int) -> Dict[str, float]:
    """Median seconds per call of each function, timed one call each in turn."""
    for fn in fns.values():
        fn()
    times: Dict[str, List[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main(argv: Optional[List[str]] = None) -> dict:
    """Exports, checks and times; returns the exporter used, the differences and the medians.

    Raises:
        ValueError: No image size known, or ONNX Runtime differs from PyTorch by more than
            ``--atol``.
    """
    args = parse_args(argv)
    model = init_model_from_args(args)
    size = tuple(args.image_size) if args.image_size else network_input_size(model)
    if size is None:
        raise ValueError(f'{args.config}: the data preprocessor has no size; give --image-size')
    text_input = 'features' if args.text_features else 'tokens'
    graph = SegmentorGraph(model, text_input=text_input, normalize=True).eval()
    if args.text_features and not graph.has_text:
        print_log(f'{args.config} has no text encoder: --text-features changes nothing',
                  logger='current', level=logging.WARNING)
    inputs = example_inputs(graph, size, captions=[args.caption],
                            generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref_logits, ref_probs = graph(*inputs)  # the model as loaded, before folding
    folded = fold_conv_bn(model)
    exporter = export_onnx(graph, args.out, size, exporter=args.exporter)
    add_metadata(args.out, graph, args.config, size)
    session = OnnxSegmentor(args.out)  # as many threads as PyTorch
    named = dict(zip(graph.input_names, inputs))
    logits, probs = session.run(named)
    diff = float((torch.from_numpy(probs) - ref_probs).abs().max())
    logit_diff = float((torch.from_numpy(logits) - ref_logits).abs().max())
    shapes = ', '.join(f'{i.name} {i.type} {i.shape}' for i in session.session.get_inputs())
    print_log(f'{args.out}: exported with the {exporter} exporter ({len(folded)} BatchNorms '
              f'folded first); inputs: {shapes}; outputs: logits, probs (N, K, {size[0]}, '
              f'{size[1]})', logger='current')
    print_log(f'ONNX Runtime vs PyTorch on a random image and {args.caption!r}: max |diff| '
              f'probs {diff:.2e}, logits {logit_diff:.2e}', logger='current')
    if not diff < args.atol:
        raise ValueError(f'{args.out}: ONNX Runtime differs from PyTorch by {diff:.2e} on the '
                         f'probabilities, not below --atol {args.atol:g}')
    result = dict(exporter=exporter, diff=diff, logit_diff=logit_diff, folded=len(folded))
    if args.repeat:
        with torch.no_grad():
            medians = time_alternately({'pytorch': lambda: graph(*inputs),
                                        'onnxruntime': lambda: session.run(named)}, args.repeat)
        print_log(f'batch 1, {size[0]}x{size[1]}, {torch.get_num_threads()} threads, median of '
                  f'{args.repeat}: PyTorch (folded) {medians["pytorch"] * 1e3:.1f} ms, ONNX '
                  f'Runtime {medians["onnxruntime"] * 1e3:.1f} ms (x'
                  f'{medians["pytorch"] / medians["onnxruntime"]:.2f})', logger='current')
        result.update(medians)
    return result


if __name__ == '__main__':
    main()
