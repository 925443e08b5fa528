"""Tests for the QaTa caption grammar (vlseg/datasets/qata_captions.py)."""
import itertools
import re

import pytest

from vlseg.datasets.qata_captions import (ZONES, make_caption, other_zones, parse_caption,
                                          parse_zone_name, zone_name)


def test_zones_constant():
    assert len(ZONES) == 6 and len(set(ZONES)) == 6
    assert set(ZONES) == set(itertools.product(('left', 'right'), ('upper', 'middle', 'lower')))
    for zone in ZONES:
        assert parse_zone_name(zone_name(zone)) == zone
    assert zone_name(('left', 'upper')) == 'left upper'
    with pytest.raises(ValueError):
        zone_name(('top', 'upper'))
    with pytest.raises(ValueError):
        parse_zone_name('left top')


# ------------------------------------------------------------------------------------------------
# Making and parsing captions
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('zones, caption', [
    ([('right', 'lower')], 'Unilateral pulmonary infection, one infected area, lower right lung.'),
    ([('left', 'lower'), ('right', 'lower')],
     'Bilateral pulmonary infection, two infected areas, lower left lung and lower right lung.'),
    ([('right', 'lower'), ('left', 'middle'), ('right', 'middle'), ('left', 'upper'),
      ('left', 'lower')],
     'Bilateral pulmonary infection, five infected areas, upper middle lower left lung and '
     'middle lower right lung.'),
    ([('left', 'lower'), ('left', 'upper')],
     'Unilateral pulmonary infection, two infected areas, upper lower left lung.'),
])
def test_make_caption_examples(zones, caption):
    assert make_caption(zones) == caption
    assert parse_caption(caption) == frozenset(zones)


def test_caption_round_trip_all_subsets():
    count_words = ['one', 'two', 'three', 'four', 'five', 'six']
    captions = set()
    subsets = [frozenset(c) for n in range(1, 7) for c in itertools.combinations(ZONES, n)]
    assert len(subsets) == 63
    for subset in subsets:
        caption = make_caption(subset)
        captions.add(caption)
        assert parse_caption(caption) == subset
        assert parse_caption(caption.lower()) == subset
        assert parse_caption(caption.upper().rstrip('.')) == subset
        sides = {side for side, _ in subset}
        assert caption.startswith('Bilateral' if len(sides) == 2 else 'Unilateral')
        n = len(subset)
        assert f', {count_words[n - 1]} infected {"area" if n == 1 else "areas"}, ' in caption
        if len(sides) == 2:
            assert caption.index('left lung') < caption.index('right lung')
    assert len(captions) == 63


def test_make_caption_rejects_bad_zones():
    with pytest.raises(ValueError, match='at least one'):
        make_caption([])
    with pytest.raises(ValueError, match='unknown'):
        make_caption([('left', 'top')])
    with pytest.raises(ValueError, match='unknown'):
        make_caption([('upper', 'left')])


@pytest.mark.parametrize('caption', [
    '',
    'hello world',
    'Unilateral pulmonary infection, two infected areas, lower left lung.',  # count
    'Bilateral pulmonary infection, one infected area, lower left lung.',  # laterality
    'Unilateral pulmonary infection, one infected area, lower left lung and lower right lung.',
    'Unilateral pulmonary infection, one infected areas, lower left lung.',  # plural
    'Bilateral pulmonary infection, two infected area, lower left lung and lower right lung.',
    'Unilateral pulmonary infection, one infected area, lower centre lung.',  # side
    'Unilateral pulmonary infection, one infected area, top left lung.',  # level
    'Unilateral pulmonary infection, two infected areas, lower lower left lung.',  # duplicate
    'Bilateral pulmonary infection, two infected areas, lower right lung and lower left lung.',
    'Bilateral pulmonary infection, two infected areas, lower left lung and upper left lung.',
    'Unilateral pulmonary infection, seven infected areas, lower left lung.',
    'Unilateral pulmonary infection, one infected area, left lung.',  # no zone word
])
def test_parse_caption_rejects_garbage(caption):
    with pytest.raises(ValueError, match=re.escape(repr(caption))):
        parse_caption(caption)


def test_parse_caption_rejects_non_string():
    with pytest.raises(ValueError, match='str'):
        parse_caption(None)


def test_parse_caption_hand_values():
    """Loose spacing and case, no final period; the zones were read off by hand."""
    caption = '  bilateral  PULMONARY infection , three infected areas , middle  left lung and ' \
        'upper lower right lung '
    assert parse_caption(caption) == {('left', 'middle'), ('right', 'upper'), ('right', 'lower')}
    assert parse_caption('Unilateral pulmonary infection, one infected area, upper right lung') \
        == {('right', 'upper')}
    assert parse_caption('Unilateral pulmonary infection, three infected areas, upper middle '
                         'lower left lung.') == {('left', 'upper'), ('left', 'middle'),
                                                 ('left', 'lower')}


@pytest.mark.parametrize('caption, why', [
    ('Unilateral pulmonary infection, two infected areas, lower left lung.',
     "count 'two' does not match the 1 zone(s) named"),
    ('Bilateral pulmonary infection, one infected area, lower left lung.',
     "'bilateral' does not match the 1 lung(s) named"),
    ('Bilateral pulmonary infection, two infected areas, lower right lung and lower left lung.',
     'the left lung must come first'),
    ('Unilateral pulmonary infection, one infected areas, lower left lung.',
     "'areas' does not agree with 'one'"),
    ('Bilateral pulmonary infection, six infected areas, all left lung and all right lung.',
     "unknown zone word 'all'; expected ('upper', 'middle', 'lower')"),
    ('Lesion in the lower left lung.', 'no match'),
])
def test_parse_caption_error_names_caption_and_reason(caption, why):
    with pytest.raises(ValueError) as info:
        parse_caption(caption)
    message = str(info.value)
    assert message.startswith(f'caption {caption!r} does not follow the QaTa template')
    assert message.endswith(why)


# ------------------------------------------------------------------------------------------------
# The other zones of a counterfactual caption
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('zones, others, caption', [
    ([('left', 'upper')],
     [('left', 'middle'), ('left', 'lower'), ('right', 'upper'), ('right', 'middle'),
      ('right', 'lower')],
     'Bilateral pulmonary infection, five infected areas, middle lower left lung and upper '
     'middle lower right lung.'),
    ([('left', 'lower'), ('right', 'upper')],
     [('left', 'upper'), ('left', 'middle'), ('right', 'middle'), ('right', 'lower')],
     'Bilateral pulmonary infection, four infected areas, upper middle left lung and middle '
     'lower right lung.'),
    ([('left', 'upper'), ('left', 'middle'), ('left', 'lower')],
     [('right', 'upper'), ('right', 'middle'), ('right', 'lower')],
     'Unilateral pulmonary infection, three infected areas, upper middle lower right lung.'),
    ([('left', 'upper'), ('left', 'middle'), ('left', 'lower'), ('right', 'upper'),
      ('right', 'lower')],
     [('right', 'middle')],
     'Unilateral pulmonary infection, one infected area, middle right lung.'),
    (ZONES, [('left', 'lower')],  # all six named: the lower left zone alone
     'Unilateral pulmonary infection, one infected area, lower left lung.'),
])
def test_other_zones_hand_values(zones, others, caption):
    assert other_zones(zones) == frozenset(others)
    assert make_caption(other_zones(zones)) == caption


def test_other_zones_caption_names_exactly_the_complement():
    count_words = ['one', 'two', 'three', 'four', 'five', 'six']
    subsets = [frozenset(c) for n in range(1, 6) for c in itertools.combinations(ZONES, n)]
    assert len(subsets) == 62  # every zone set but the empty one and all six
    for subset in subsets:
        caption = make_caption(other_zones(subset))
        named = parse_caption(caption)
        assert named == set(ZONES) - subset
        assert not named & subset and len(named) + len(subset) == 6
        n = 6 - len(subset)
        assert f', {count_words[n - 1]} infected {"area" if n == 1 else "areas"}, ' in caption


def test_other_zones_rejects_bad_zones():
    with pytest.raises(ValueError, match='at least one'):
        other_zones([])
    with pytest.raises(ValueError, match='unknown'):
        other_zones([('left', 'top')])
