"""The shared argument checks: accepted values pass through, the rest raise ValueError."""
import pytest

from vlseg.models.layers.checks import (check_dropout, check_positive_int, check_positive_ints,
                                        is_int)


def test_is_int_excludes_bool_and_float():
    assert is_int(3) and is_int(0) and is_int(-2)
    assert not is_int(True) and not is_int(2.0) and not is_int('2')


@pytest.mark.parametrize('value', [1, 7])
def test_positive_int_passes_through(value):
    assert check_positive_int('dims', value) is value


@pytest.mark.parametrize('value', [0, -1, True, 2.0, '3', None])
def test_positive_int_rejects(value):
    with pytest.raises(ValueError, match=rf'^dims must be a positive int, got {value!r}$'):
        check_positive_int('dims', value)


def test_positive_ints():
    assert check_positive_ints('sizes', [1, 3, 5]) == (1, 3, 5)
    for bad in ([], (1, 0), (1, True), (2.0, )):
        with pytest.raises(ValueError, match='sizes must be a non-empty sequence of positive '
                                             'ints, got'):
            check_positive_ints('sizes', bad)


def test_dropout_is_in_zero_one():
    assert check_dropout('dropout', 0) == 0 and check_dropout('dropout', 0.5) == 0.5
    for bad in (1.0, -0.1, 2):
        with pytest.raises(ValueError, match=r'^dropout must be in \[0, 1\), got '):
            check_dropout('dropout', bad)
