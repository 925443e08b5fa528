"""Segment your own images with a trained checkpoint and a caption.

One image:
    python tools/infer.py CONFIG CKPT IMAGE "caption" --out DIR [--compare "other caption"]
A folder listed in a csv (columns image,text and optionally mask):
    python tools/infer.py CONFIG CKPT --csv FILE --img-dir DIR --out DIR [--mask-dir DIR]

Per image it writes to DIR: <stem>_mask.png (0/255), <stem>_overlay.png (the mask tinted over
the image, with the caption), <stem>_prob.png (the probability heat map) and, for a model with
interest weights (RecLMIS), <stem>_poi.png (W_poi over the image) and <stem>_woi.png (W_woi
over the caption's tokens). --compare adds <stem>_compare.png; --csv adds results.csv.
--deploy onnxruntime runs the image path in ONNX Runtime (docs/inference.md#deploy-and-onnx).
"""
import argparse
import csv
import logging
import os
import os.path as osp
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np
from mmengine.logging import print_log
from mmengine.utils import ProgressBar
from PIL import Image

from vlseg.apis import (BACKENDS, InferenceResult, add_model_args, deploy_model, inference_model,
                        init_model_from_args)
from vlseg.datasets.transforms.loading import binarize_mask
from vlseg.evaluation import binary_confusion, summarize
from vlseg.visualization import (compare_sheet, draw_panel, heatmap, heatmap_overlay,
                                 token_bar_chart)

RESULT_FIELDS = ('image', 'caption', 'foreground_pixels', 'mean_prob', 'dice', 'iou')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_args(parser)  # config, checkpoint, --device, --non-strict, ...
    parser.add_argument('image', nargs='?', help='image file (not with --csv)')
    parser.add_argument('caption', nargs='?', help='caption of the image (not with --csv)')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--compare', metavar='CAPTION',
                        help='a second caption: also write <stem>_compare.png')
    parser.add_argument('--csv', help='csv with columns image,text[,mask]: run every row')
    parser.add_argument('--img-dir', help='folder the csv\'s image names are relative to')
    parser.add_argument('--mask-dir', help='folder the csv\'s mask names are relative to '
                        '(default: --img-dir)')
    parser.add_argument('--batch-size', type=int, default=8, help='images per forward pass')
    parser.add_argument('--deploy', choices=BACKENDS,
                        help='eager: fold conv + BatchNorm (same predictions); onnxruntime: also '
                        'run the image path in ONNX Runtime on the CPU (faster; the deploy '
                        'extra; no W_poi/W_woi pictures)')
    args = parser.parse_args(argv)
    if args.csv:
        if args.image or args.caption:
            parser.error('give either IMAGE and "caption" or --csv, not both')
        if not args.img_dir:
            parser.error('--csv needs --img-dir')
        if args.compare:
            parser.error('--compare works on one IMAGE, not with --csv')
    elif not (args.image and args.caption):
        parser.error('give IMAGE and "caption", or --csv FILE --img-dir DIR')
    if args.batch_size < 1:
        parser.error(f'--batch-size must be >= 1, got {args.batch_size}')
    return args


def read_rows(csv_file: str, img_dir: str, mask_dir: Optional[str]) -> List[Dict[str, str]]:
    """The csv rows as dicts with the image path, the caption and the mask path ('' if none).

    Every row is checked before anything runs: the image (and mask) file exists and is an
    image, the caption is not empty, the mask has the image's size.

    Raises:
        ValueError: Naming the csv file, the row's line number and the field.
    """
    with open(csv_file, newline='', encoding='utf-8') as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        if not {'image', 'text'} <= set(columns):
            raise ValueError(f'{csv_file}: the header must name the columns image,text[,mask], '
                             f'got {columns}')
        rows = list(reader)
    if not rows:
        raise ValueError(f'{csv_file}: no rows under the header')
    checked = []
    for line, row in enumerate(rows, start=2):  # line 1 is the header

        def bad(field: str, why: str) -> ValueError:
            return ValueError(f'{csv_file}, line {line}, field {field!r}: {why}')

        name = (row.get('image') or '').strip()
        image = osp.join(img_dir, name)
        size = _image_size(image) if name else None
        if size is None:
            raise bad('image', f'{image!r} is not a readable image file')
        caption = (row.get('text') or '').strip()
        if not caption:
            raise bad('text', 'the caption is empty')
        mask = (row.get('mask') or '').strip()
        if mask:
            mask = osp.join(mask_dir or img_dir, mask)
            mask_size = _image_size(mask)
            if mask_size is None:
                raise bad('mask', f'{mask!r} is not a readable image file')
            if mask_size != size:
                raise bad('mask', f'{mask!r} is {mask_size[0]}x{mask_size[1]} but the image is '
                          f'{size[0]}x{size[1]} (width x height)')
        checked.append(dict(image=image, caption=caption, mask=mask, name=name))
    return checked


def _image_size(path: str) -> Optional[Tuple[int, int]]:
    """(width, height) of an image file from its header, or None if it is not one."""
    if not osp.isfile(path):
        return None
    try:
        with Image.open(path) as image:
            return image.size
    except OSError:
        return None


def output_stems(names: List[str]) -> List[str]:
    """A file stem per image: its name without extension, folders joined by '_', with the
    row's index appended where two rows would share one."""
    stems = [osp.splitext(name)[0].replace('/', '_').replace('\\', '_') for name in names]
    seen: Dict[str, int] = {}
    for stem in stems:
        seen[stem] = seen.get(stem, 0) + 1
    return [stem if seen[stem] == 1 else f'{stem}_{i}' for i, stem in enumerate(stems)]


def write_outputs(out_dir: str, stem: str, image: np.ndarray, result: InferenceResult) -> None:
    """Writes the mask, overlay, probability map and, when present, the interest maps."""
    cv2.imwrite(osp.join(out_dir, f'{stem}_mask.png'), result.mask * 255)
    cv2.imwrite(osp.join(out_dir, f'{stem}_overlay.png'),
                draw_panel(image, result.mask, result.caption, 'prediction:'))
    cv2.imwrite(osp.join(out_dir, f'{stem}_prob.png'), heatmap(result.prob, vmin=0, vmax=1))
    if result.patch_weights is not None:
        cv2.imwrite(osp.join(out_dir, f'{stem}_poi.png'),
                    heatmap_overlay(image, result.patch_weights))
    if result.word_weights is not None and result.tokens is not None:
        cv2.imwrite(osp.join(out_dir, f'{stem}_woi.png'),
                    token_bar_chart(result.tokens, result.word_weights))


def scores(result: InferenceResult, mask_file: str) -> Dict[str, object]:
    """The row of results.csv: foreground pixels, mean probability and, with a ground-truth
    mask, the per-image Dice and IoU of :class:`vlseg.evaluation.TextSegMetric`."""
    row = dict(caption=result.caption, foreground_pixels=int(result.mask.sum()),
               mean_prob=f'{float(result.prob.mean()):.6f}', dice='', iou='')
    if mask_file:
        gt = binarize_mask(cv2.imread(mask_file, cv2.IMREAD_UNCHANGED))
        per_image = summarize([binary_confusion(result.mask, gt)])
        row.update(dice=f'{per_image["mDice"]:.6f}', iou=f'{per_image["mIoU"]:.6f}')
    return row


def run_csv(model, rows: List[Dict[str, str]], args: argparse.Namespace) -> None:
    stems = output_stems([row['name'] for row in rows])
    os.makedirs(args.out, exist_ok=True)
    table = []
    progress = ProgressBar(len(rows))
    for start in range(0, len(rows), args.batch_size):
        chunk = rows[start:start + args.batch_size]
        results = inference_model(model, [row['image'] for row in chunk],
                                  [row['caption'] for row in chunk], batch_size=args.batch_size)
        for row, stem, result in zip(chunk, stems[start:], results):
            write_outputs(args.out, stem, cv2.imread(row['image'], cv2.IMREAD_COLOR), result)
            table.append(dict(image=row['name'], **scores(result, row['mask'])))
            progress.update()
    progress.file.write('\n')
    path = osp.join(args.out, 'results.csv')
    with open(path, 'w', newline='', encoding='utf-8') as f:
        writer = csv.DictWriter(f, fieldnames=RESULT_FIELDS)
        writer.writeheader()
        writer.writerows(table)
    means = [f'mean foreground pixels {np.mean([r["foreground_pixels"] for r in table]):.1f}',
             f'mean prob {np.mean([float(r["mean_prob"]) for r in table]):.4f}']
    scored = [r for r in table if r['dice'] != '']
    if scored:
        means += [f'mDice {np.mean([float(r["dice"]) for r in scored]):.4f}',
                  f'mIoU {np.mean([float(r["iou"]) for r in scored]):.4f} '
                  f'({len(scored)} of {len(table)} images with masks)']
    print_log(f'{len(table)} images -> {args.out}; ' + ', '.join(means) + f'; table: {path}',
              logger='current', level=logging.INFO)


def run_one(model, args: argparse.Namespace) -> None:
    image = cv2.imread(args.image, cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f'IMAGE {args.image!r} is not a readable image file')
    captions = [args.caption] + ([args.compare] if args.compare else [])
    results = inference_model(model, [args.image] * len(captions), captions,
                              batch_size=args.batch_size)
    os.makedirs(args.out, exist_ok=True)
    stem = osp.splitext(osp.basename(args.image))[0]
    write_outputs(args.out, stem, image, results[0])
    if args.compare:
        cv2.imwrite(osp.join(args.out, f'{stem}_compare.png'),
                    compare_sheet(image, results[0].mask, args.caption, results[1].mask,
                                  args.compare))
    print_log(f'{args.image}: {int(results[0].mask.sum())} foreground pixels, mean prob '
              f'{float(results[0].prob.mean()):.4f}; files in {args.out}', logger='current',
              level=logging.INFO)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    # a bad row fails before the model is built and before anything is written
    rows = read_rows(args.csv, args.img_dir, args.mask_dir) if args.csv else None
    model = init_model_from_args(args)
    if args.deploy:
        deploy_model(model, backend=args.deploy)
    if rows is not None:
        run_csv(model, rows, args)
    else:
        run_one(model, args)


if __name__ == '__main__':
    main()
