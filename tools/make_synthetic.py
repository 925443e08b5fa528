"""Writes a synthetic QaTa-COV19-like dataset (LViT xlsx + LanGuideMedSeg csv layouts).

Also writes ``meta.json`` (the arguments, the zones of every image) and ``manifest.json`` (size
and sha256 of every file, checked by ``verify_manifest`` before a run).

Example::

    python tools/make_synthetic.py data/synth_qata --mode refer --num-train 400 --num-val 50 \\
        --num-test 100 --image-size 224 --seed 0
"""
import argparse
import json
import sys
import time
from typing import List, Optional

from vlseg.datasets import synthetic

__all__ = ['parse_args', 'main']


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parses the command line."""
    parser = argparse.ArgumentParser(
        description='Write a synthetic QaTa-COV19-like dataset: chest-X-ray-like images, '
        'lesion masks and QaTa-template captions, in the LViT/QaTa layout (Train_Folder, '
        'Val_Folder, Test_Folder with xlsx captions) plus prompt/*.csv and meta.json.')
    parser.add_argument('out_dir', help='output directory (must not exist unless --overwrite)')
    parser.add_argument('--mode', choices=synthetic.MODES, default='refer',
                        help='refer: captions name a subset of the lesions and the others are '
                        'distractors left out of the mask; describe: captions name every '
                        'lesion (default: %(default)s)')
    parser.add_argument('--num-train', type=int, default=synthetic.DEFAULT_NUM_TRAIN)
    parser.add_argument('--num-val', type=int, default=synthetic.DEFAULT_NUM_VAL)
    parser.add_argument('--num-test', type=int, default=synthetic.DEFAULT_NUM_TEST)
    parser.add_argument('--image-size', type=int, default=synthetic.DEFAULT_IMAGE_SIZE)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--contrast', type=float, default=synthetic.DEFAULT_CONTRAST,
                        help='lesion peak brightness / noise std (default: %(default)s)')
    parser.add_argument('--noise', type=float, default=synthetic.DEFAULT_NOISE,
                        help='pixel noise std in 0-255 units (default: %(default)s)')
    parser.add_argument('--lesion-size', type=float, nargs=2, metavar=('MIN', 'MAX'),
                        default=list(synthetic.DEFAULT_LESION_SIZE),
                        help='lesion radius range as a fraction of the image size '
                        '(default: %(default)s)')
    parser.add_argument('--max-lesions', type=int, default=synthetic.DEFAULT_MAX_LESIONS,
                        help='most zones a caption names, 1..6 (default: %(default)s)')
    parser.add_argument('--max-distractors', type=int,
                        default=synthetic.DEFAULT_MAX_DISTRACTORS,
                        help='most distractor lesions per image in refer mode '
                        '(default: %(default)s)')
    parser.add_argument('--overwrite', action='store_true', help='replace OUT_DIR if it exists')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Runs the CLI; returns the exit status."""
    args = parse_args(argv)
    start = time.perf_counter()
    try:
        root = synthetic.write_dataset(
            args.out_dir, mode=args.mode, num_train=args.num_train, num_val=args.num_val,
            num_test=args.num_test, image_size=args.image_size, seed=args.seed,
            overwrite=args.overwrite, contrast=args.contrast, noise=args.noise,
            lesion_size=tuple(args.lesion_size), max_lesions=args.max_lesions,
            max_distractors=args.max_distractors)
    except (FileExistsError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - start
    meta = json.loads((root / 'meta.json').read_text(encoding='utf-8'))
    counts = {split: len(files) for split, files in meta['files'].items()}
    print(f'wrote {root} in {elapsed:.1f} s ({args.mode} mode, {args.image_size}px, '
          f'seed {args.seed}): ' + ', '.join(f'{n} {split}' for split, n in counts.items())
          + '; manifest.json holds the size and sha256 of every file')
    return 0


if __name__ == '__main__':
    sys.exit(main())
