"""Text drawn with any Unicode characters: distinct glyphs give distinct pixels.

cv2.putText draws every non-ASCII character as '?', and a font without a glyph draws the same
empty box for every missing character, so a character is drawn correctly when its pixels differ
from those of '?' and from those of other characters.
"""
import textwrap

import numpy as np
import pytest

from vlseg.visualization import draw_panel, font_families, render_text_lines, wrap_text
from vlseg.visualization.text_rendering import DEFAULT_FONT_FAMILY, find_font_file

CAPTION = 'Lésion gauche — 左肺'
ASCII_STAND_IN = 'L?sion gauche ? ??'  # what cv2.putText draws
HAS_CJK_FONT = all(find_font_file(c) for c in '左肺')
NEEDS_CJK_FONT = pytest.mark.skipif(
    not HAS_CJK_FONT, reason='no installed font has Chinese glyphs (e.g. Debian fonts-noto-cjk, '
    'fonts-wqy-microhei or fonts-droid-fallback)')


def _glyph(char: str) -> np.ndarray:
    return render_text_lines([char], 32)


def _ink(image: np.ndarray) -> int:
    """How many pixels are not white background."""
    return int((image.min(axis=-1) < 255).sum())


def test_layout_and_colours():
    strip = render_text_lines(['title', 'a caption'], 100, color=(0, 0, 255),
                              background=(10, 20, 30))
    assert strip.shape == (14 * 2 + 6, 100, 3) and strip.dtype == np.uint8
    assert tuple(strip[0, 0]) == (10, 20, 30) and tuple(strip[-1, -1]) == (10, 20, 30)
    assert (strip[..., 2] > strip[..., 1]).any()  # text pixels lean to the text colour
    rows = np.nonzero((strip != (10, 20, 30)).any(axis=(1, 2)))[0]
    assert rows.min() >= 3 and rows.max() <= 14 * 2 + 3  # each line around its baseline
    with pytest.raises(ValueError):
        render_text_lines(['x'], 0)


@pytest.mark.parametrize('char', ['é', '—', 'ü', 'Ж'])
def test_latin_and_other_glyphs_of_the_default_font(char):
    glyph = _glyph(char)
    assert _ink(glyph) > 0
    assert not np.array_equal(glyph, _glyph('?'))
    assert font_families(char) == [DEFAULT_FONT_FAMILY]


def test_accented_letters_are_not_their_base_letters():
    assert not np.array_equal(_glyph('é'), _glyph('e'))
    assert not np.array_equal(render_text_lines(['Lésion'], 100),
                              render_text_lines(['Lesion'], 100))


@NEEDS_CJK_FONT
def test_chinese_glyphs_come_from_a_fallback_font():
    left, lung = _glyph('左'), _glyph('肺')
    assert _ink(left) > 20 and _ink(lung) > 20
    assert not np.array_equal(left, lung)  # a missing-glyph box would be the same for both
    assert not np.array_equal(left, _glyph('?'))
    families = font_families(CAPTION)
    assert families[0] == DEFAULT_FONT_FAMILY and len(families) == 2


@NEEDS_CJK_FONT
def test_draw_panel_draws_what_cv2_could_not():
    image = np.full((16, 16), 100, np.uint8)
    mask = np.zeros((16, 16), np.uint8)
    unicode = draw_panel(image, mask, CAPTION, 'caption:')
    stand_in = draw_panel(image, mask, ASCII_STAND_IN, 'caption:')
    assert unicode.shape == stand_in.shape
    assert np.array_equal(unicode[:256], stand_in[:256])  # same image part
    assert not np.array_equal(unicode[256:], stand_in[256:])
    # Missing glyphs would all be the same box: then the caption would draw as 'Lésion gauche
    # — 左左' does.
    assert not np.array_equal(render_text_lines([CAPTION], 256),
                              render_text_lines([CAPTION.replace('肺', '左')], 256))


def test_a_character_no_font_has_keeps_the_default_font():
    # U+10FFFD is a private-use code point that no font is expected to draw.
    assert find_font_file('\U0010fffd') is None
    assert font_families('\U0010fffd') == [DEFAULT_FONT_FAMILY]


def test_wrap_text():
    ascii_caption = ('Bilateral pulmonary infection, two infected areas, upper left lung and '
                     'lower-right lung.')
    assert wrap_text(ascii_caption, 40) == textwrap.wrap(ascii_caption, 40)
    lines = wrap_text('左肺' * 30, 40)  # no spaces; each character two columns wide
    assert lines == ['左肺' * 10] * 3
    assert wrap_text(CAPTION + ' lower left lung', 20) == ['Lésion gauche — 左肺', 'lower left lung']
    with pytest.raises(ValueError):
        wrap_text('x', 1)
