"""Text drawn into image arrays with any Unicode characters.

``cv2.putText`` knows ASCII only: it draws ``'Lésion — 左肺'`` as ``'L?sion ? ??'``. Here text is
drawn by matplotlib's Agg renderer with font fallback: DejaVu Sans (shipped with matplotlib, it
covers Latin, Greek, Cyrillic and most punctuation), then for each character it lacks the first
installed font that has it (for Chinese, Japanese or Korean, for example Noto Sans CJK,
WenQuanYi or Droid Sans Fallback, Debian packages ``fonts-noto-cjk``, ``fonts-wqy-microhei``,
``fonts-droid-fallback``). Fonts installed after matplotlib built its font cache are found too.
A character that no installed font has is drawn as an empty box, and a warning names it once.
"""
import functools
import os.path as osp
import textwrap
import unicodedata
import warnings
from typing import FrozenSet, List, Optional, Sequence, Tuple

import numpy as np
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font
from mmengine.logging import print_log

__all__ = ['DEFAULT_FONT_FAMILY', 'font_families', 'find_font_file', 'render_text_lines',
           'text_width', 'wrap_text']

#: The first font family tried; matplotlib ships it, so it is always there.
DEFAULT_FONT_FAMILY = 'DejaVu Sans'

Color = Tuple[int, int, int]


@functools.lru_cache(maxsize=None)
def _charmap(path: str) -> FrozenSet[int]:
    """The code points the font file ``path`` has glyphs for (empty for an unreadable file)."""
    try:
        return frozenset(FT2Font(path).get_charmap())
    except (OSError, RuntimeError, ValueError):
        return frozenset()


@functools.lru_cache(maxsize=None)
def _font_files() -> Tuple[str, ...]:
    """Font files matplotlib knows, then system fonts installed after its cache was built.

    Last Resort fonts are left out: they map every character to a placeholder box.
    """
    known = [entry.fname for entry in font_manager.fontManager.ttflist]
    files = dict.fromkeys(known + sorted(font_manager.findSystemFonts()))
    return tuple(f for f in files if 'lastresort' not in osp.basename(f).lower())


def find_font_file(char: str) -> Optional[str]:
    """The first installed font file with a glyph for ``char``, or None."""
    code = ord(char)
    return next((path for path in _font_files() if code in _charmap(path)), None)


@functools.lru_cache(maxsize=None)
def _family_of(path: str) -> str:
    """The family name matplotlib knows ``path`` by, adding the file to its font list if new."""
    for entry in font_manager.fontManager.ttflist:
        if entry.fname == path:
            return entry.name
    font_manager.fontManager.addfont(path)
    return font_manager.fontManager.ttflist[-1].name


@functools.lru_cache(maxsize=None)
def _warn_missing(chars: str) -> None:
    """Logs once per set of characters that no installed font can draw them."""
    print_log(f'no installed font has glyphs for {chars!r}; they are drawn as boxes. Install '
              'a font that has them (e.g. the Debian package fonts-noto-cjk for Chinese, '
              'Japanese or Korean).', logger='current', level=30)


def font_families(text: str) -> List[str]:
    """The font families, in fallback order, that draw every character of ``text``.

    :data:`DEFAULT_FONT_FAMILY` first, then one family for each group of characters it lacks.
    """
    families = [DEFAULT_FONT_FAMILY]
    covered = set(_charmap(font_manager.findfont(DEFAULT_FONT_FAMILY)))
    missing = []
    for char in sorted(set(text)):
        if char.isspace() or ord(char) in covered:
            continue
        path = find_font_file(char)
        if path is None:
            missing.append(char)
            continue
        covered |= _charmap(path)
        family = _family_of(path)
        if family not in families:
            families.append(family)
    if missing:
        _warn_missing(''.join(missing))
    return families


def text_width(text: str) -> int:
    """Width of ``text`` in columns: 2 for a wide (CJK) character, 1 for any other."""
    return sum(2 if unicodedata.east_asian_width(c) in 'WF' else 1 for c in text)


def wrap_text(text: str, width: int) -> List[str]:
    """``textwrap.wrap(text, width)``, narrower where wide characters would overflow a line.

    Text without wide characters wraps exactly as ``textwrap.wrap``. Otherwise the text is
    wrapped at the largest character count that keeps every line within ``width`` columns (see
    :func:`text_width`), so that Chinese, which has no spaces, is cut between characters.
    """
    if width < 2:
        raise ValueError(f'width must be >= 2, got {width}')
    for chars in range(width, 0, -1):
        lines = textwrap.wrap(text, chars)
        if all(text_width(line) <= width for line in lines):
            return lines
    return lines


def render_text_lines(lines: Sequence[str], width: int, line_height: int = 14,
                      font_size: float = 11.0, margin: int = 3, color: Color = (0, 0, 0),
                      background: Color = (255, 255, 255)) -> np.ndarray:
    """Draws ``lines`` one below the other, left-aligned, on a ``background`` strip.

    The layout is that of ``cv2.putText`` rows: line i has its baseline at
    ``line_height * (i + 1)`` pixels from the top and starts ``margin`` pixels from the left;
    text wider than ``width`` is cut at the right edge.

    Args:
        lines: The text lines; any Unicode characters (see the module docstring for fonts).
        width: Width of the strip in pixels.
        line_height: Distance between baselines in pixels.
        font_size: Font size in pixels.
        margin: Left margin in pixels; also the extra space under the last line is 2 * margin.
        color: Text colour, three 0-255 values in the channel order of the output.
        background: Background colour, in the same order.

    Returns:
        (line_height * len(lines) + 2 * margin, width, 3) uint8.
    """
    if width < 1 or line_height < 1 or font_size <= 0:
        raise ValueError(f'width, line_height and font_size must be positive, got {width}, '
                         f'{line_height} and {font_size}')
    height = line_height * len(lines) + 2 * margin
    dpi = 72  # one point is one pixel
    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi,
                 facecolor=tuple(c / 255 for c in background))
    canvas = FigureCanvasAgg(fig)
    families = font_families(''.join(lines))
    for i, line in enumerate(lines):
        fig.text(margin / width, 1 - line_height * (i + 1) / height, line, fontsize=font_size,
                 family=families, color=tuple(c / 255 for c in color), va='baseline',
                 ha='left')
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='Glyph .* missing from')
        canvas.draw()
    rgb = np.asarray(canvas.buffer_rgba())[..., :3]
    out = np.empty((height, width, 3), np.uint8)
    out[...] = background  # Agg may round the canvas a pixel short
    h, w = min(height, rgb.shape[0]), min(width, rgb.shape[1])
    out[:h, :w] = rgb[:h, :w]
    return out
