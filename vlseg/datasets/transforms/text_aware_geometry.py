"""Geometric augmentations that keep the caption true to the transformed image.

A caption such as "unilateral pulmonary infection, one infected area, lower left lung." names
positions. Mirroring or turning the image moves the lesion, so the position words must follow:

- a horizontal flip swaps ``left`` and ``right``;
- a vertical flip swaps ``upper`` and ``lower`` (and ``top`` and ``bottom``);
- a diagonal flip and a 180° rotation do both;
- a quarter turn (90° or 270°) maps left/right onto up/down, which the caption vocabulary cannot
  express, so :class:`TextAwareRandomRotate90` refuses it for captions that name positions.

Small rotations (the ±20° of the official LViT/RecLMIS augmentation) leave every position word
true: use mmseg's ``RandomRotate``, which does not touch ``results['text']``.

Randomness follows MMCV: draws use NumPy's global generator inside ``@cache_randomness``
methods, so seeding goes through ``mmengine``'s ``set_random_seed`` / ``randomness`` config and
``mmcv.transforms.utils.avoid_cache_randomness`` works as for other transforms.
"""
import re
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness
from mmseg.datasets.transforms import RandomFlip
from mmseg.registry import TRANSFORMS

__all__ = [
    'HORIZONTAL_PAIRS', 'VERTICAL_PAIRS', 'POSITION_WORDS', 'swap_position_words',
    'has_position_words', 'TextAwareRandomFlip', 'TextAwareRandomRotate90'
]

WordPairs = Sequence[Tuple[str, str]]
Text = Union[str, List[str], Tuple[str, ...]]

#: Word pairs swapped by a horizontal (left-right) mirror.
HORIZONTAL_PAIRS: Tuple[Tuple[str, str], ...] = (('left', 'right'), )
#: Word pairs swapped by a vertical (up-down) mirror.
VERTICAL_PAIRS: Tuple[Tuple[str, str], ...] = (('upper', 'lower'), ('top', 'bottom'))
#: Words that tie a caption to the image orientation (a quarter turn would falsify them).
POSITION_WORDS: Tuple[str, ...] = ('left', 'right', 'upper', 'lower', 'top', 'bottom', 'middle')


def _word_pattern(words: Sequence[str]) -> 're.Pattern[str]':
    """Case-insensitive regex matching any of ``words`` as a whole word."""
    alternation = '|'.join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf'\b(?:{alternation})\b', flags=re.IGNORECASE)


def _pair_mapping(pairs: WordPairs) -> Dict[str, str]:
    """Lower-case word -> partner for every pair, both ways; validates the pairs."""
    mapping: Dict[str, str] = {}
    for pair in pairs:
        if (not isinstance(pair, (tuple, list)) or len(pair) != 2
                or not all(isinstance(w, str) and w.strip() for w in pair)):
            raise ValueError(f'Each pair must be two non-empty words, got {pair!r}.')
        a, b = (w.strip().lower() for w in pair)
        if a == b:
            raise ValueError(f'A pair must hold two different words, got {pair!r}.')
        for word, partner in ((a, b), (b, a)):
            if word in mapping:
                raise ValueError(f'The word {word!r} appears in more than one pair: {pairs!r}.')
            mapping[word] = partner
    return mapping


def _match_case(template: str, word: str) -> str:
    """Writes ``word`` in the case of ``template`` (UPPER, Title or lower)."""
    if template.isupper() and len(template) > 1:
        return word.upper()
    if template[:1].isupper():
        return word[:1].upper() + word[1:].lower()
    return word.lower()


def swap_position_words(text: str, pairs: WordPairs) -> str:
    """Swaps the two words of each pair wherever they occur as whole words.

    Matching ignores case and the replacement keeps it ("Left" -> "Right", "LEFT" -> "RIGHT");
    words are matched on word boundaries ("leftover" is untouched, "left-sided" becomes
    "right-sided"); punctuation and spacing are kept.

    Args:
        text: The caption.
        pairs: Word pairs such as ``(('left', 'right'),)``. A word may be in one pair only.

    Returns:
        The caption with the words swapped.

    Raises:
        ValueError: For a malformed pair or a word in several pairs.

    Example:
        >>> swap_position_words('Lower LEFT lung, upper right.', (('left', 'right'),))
        'Lower RIGHT lung, upper left.'
    """
    mapping = _pair_mapping(pairs)
    if not mapping:
        return text
    pattern = _word_pattern(list(mapping))
    return pattern.sub(lambda m: _match_case(m.group(0), mapping[m.group(0).lower()]), text)


def has_position_words(text: str, words: Sequence[str] = POSITION_WORDS) -> bool:
    """Whether ``text`` contains any of ``words`` as a whole word (case-insensitive)."""
    return bool(words) and _word_pattern(words).search(text) is not None


def _map_text(text: Optional[Text], pairs: WordPairs) -> Optional[Text]:
    """Applies :func:`swap_position_words` to a caption or a list of captions."""
    if text is None:
        return None
    if isinstance(text, str):
        return swap_position_words(text, pairs)
    return type(text)(swap_position_words(t, pairs) for t in text)


def _check_pairs(pairs: WordPairs, name: str) -> Tuple[Tuple[str, str], ...]:
    """Validates a pair list given to a transform and returns it as a tuple of tuples."""
    try:
        _pair_mapping(pairs)
    except ValueError as err:
        raise ValueError(f'{name}: {err}') from err
    return tuple((a, b) for a, b in pairs)


@TRANSFORMS.register_module()
class TextAwareRandomFlip(RandomFlip):
    """mmseg's ``RandomFlip`` that also swaps the position words of ``results['text']``.

    The image and every map in ``seg_fields`` are flipped exactly as by mmseg's ``RandomFlip``
    (a subclass of ``mmcv.transforms.RandomFlip``, with the same ``prob`` and ``direction``
    semantics). Then, if the sample has a caption:

    - ``'horizontal'`` swaps ``horizontal_pairs`` (left <-> right);
    - ``'vertical'`` swaps ``vertical_pairs`` (upper <-> lower, top <-> bottom);
    - ``'diagonal'`` (both flips, i.e. a 180° rotation) swaps both.

    Why left becomes right: chest X-rays and CT slices are displayed in radiological convention,
    with the patient's left on the image's right. The captions (QaTa-COV19, MosMedData+) name
    the *patient's* side. A horizontal flip moves a lesion of the patient's left lung (image
    right) to the image left, where, in the same display convention, the patient's *right* lung
    lies. The flipped image therefore shows a (mirrored) patient with the lesion in the right lung,
    and the caption must say "right". The argument holds for any fixed display convention, since
    only the mirror matters; what a flip cannot fix is anatomy that is not symmetric (the heart
    moves to the other side), which is a limitation of flip augmentation itself.

    ``text`` may be a string or a list of strings; a sample without ``text`` is only flipped.
    ``flip`` and ``flip_direction`` are recorded as by ``RandomFlip``.

    Args:
        prob: Flip probability, as in ``RandomFlip`` (a float, or a list matching
            ``direction``).
        direction: ``'horizontal'``, ``'vertical'``, ``'diagonal'`` or a list of them.
        swap_seg_labels: Label pairs swapped in the maps, as in ``RandomFlip``.
        horizontal_pairs: Word pairs swapped by a horizontal flip.
        vertical_pairs: Word pairs swapped by a vertical flip.

    Raises:
        ValueError: For malformed word pairs, or as ``RandomFlip`` for a bad ``prob`` or
            ``direction``.
    """

    def __init__(self, prob: Optional[Union[float, Sequence[float]]] = None,
                 direction: Union[str, Sequence[Optional[str]]] = 'horizontal',
                 swap_seg_labels: Optional[Sequence] = None,
                 horizontal_pairs: WordPairs = HORIZONTAL_PAIRS,
                 vertical_pairs: WordPairs = VERTICAL_PAIRS) -> None:
        super().__init__(prob=prob, direction=direction, swap_seg_labels=swap_seg_labels)
        self.horizontal_pairs = _check_pairs(horizontal_pairs, 'horizontal_pairs')
        self.vertical_pairs = _check_pairs(vertical_pairs, 'vertical_pairs')
        _check_pairs(self.horizontal_pairs + self.vertical_pairs,
                     'horizontal_pairs + vertical_pairs')

    def pairs_for(self, direction: str) -> Tuple[Tuple[str, str], ...]:
        """The word pairs swapped by a flip in ``direction``."""
        if direction == 'horizontal':
            return self.horizontal_pairs
        if direction == 'vertical':
            return self.vertical_pairs
        if direction == 'diagonal':
            return self.horizontal_pairs + self.vertical_pairs
        raise ValueError(f"Flip direction must be 'horizontal', 'vertical' or 'diagonal', got "
                         f'{direction!r}.')

    def _flip(self, results: dict) -> None:
        """Flips the image and maps (as ``RandomFlip``) and swaps the caption's words."""
        super()._flip(results)
        if results.get('text') is not None:
            results['text'] = _map_text(results['text'],
                                        self.pairs_for(results['flip_direction']))

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(prob={self.prob}, direction={self.direction}, '
                f'horizontal_pairs={self.horizontal_pairs}, '
                f'vertical_pairs={self.vertical_pairs})')


@TRANSFORMS.register_module()
class TextAwareRandomRotate90(BaseTransform):
    """Rotates the image and maps by k * 90° and keeps the caption consistent.

    With probability ``prob``, k is drawn uniformly from ``turns`` and the image and every map in
    ``seg_fields`` are rotated counter-clockwise by k quarter turns (``np.rot90``). Then:

    - k = 0: nothing changes;
    - k = 2 (180°): the caption swaps ``horizontal_pairs`` and ``vertical_pairs`` (left <-> right
      and upper <-> lower, top <-> bottom), as a diagonal flip does;
    - k = 1 or 3 (a quarter turn): left/right become up/down, which a caption cannot express. If
      the caption contains one of ``position_words`` and ``allow_position_contradiction`` is
      False, a ValueError names the image and the caption (nothing is modified). A caption
      without position words is rotated freely. With ``allow_position_contradiction=True`` the
      caption is left unchanged, knowingly wrong.

    ``img_shape`` is updated and ``rotate90_k`` records k (0 when not rotated). ``text`` may be a
    string or a list of strings.

    Args:
        prob: Probability of rotating.
        turns: The quarter-turn counts to draw from, a non-empty subset of {0, 1, 2, 3}.
        allow_position_contradiction: Rotate by a quarter turn even when the caption names
            positions, leaving it unchanged.
        position_words: Words that make a quarter turn contradict the caption.
        horizontal_pairs: Word pairs swapped by a 180° rotation (left-right).
        vertical_pairs: Word pairs swapped by a 180° rotation (up-down).

    Raises:
        ValueError: At construction, for ``prob`` outside [0, 1], empty ``turns``, a turn outside
            {0, 1, 2, 3} or malformed word pairs; when called, for a quarter turn of a caption
            with position words (unless allowed).
    """

    def __init__(self, prob: float = 0.5, turns: Sequence[int] = (2, ),
                 allow_position_contradiction: bool = False,
                 position_words: Sequence[str] = POSITION_WORDS,
                 horizontal_pairs: WordPairs = HORIZONTAL_PAIRS,
                 vertical_pairs: WordPairs = VERTICAL_PAIRS) -> None:
        if isinstance(prob, bool) or not isinstance(prob, (int, float)) or not 0 <= prob <= 1:
            raise ValueError(f'prob must be a number in [0, 1], got {prob!r}.')
        if isinstance(turns, (int, str)) or not len(turns):
            raise ValueError(f'turns must be a non-empty sequence of ints in {{0, 1, 2, 3}}, '
                             f'got {turns!r}.')
        for k in turns:
            if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k not in range(4):
                raise ValueError(f'turns must be a subset of {{0, 1, 2, 3}}, got {turns!r}.')
        self.prob = float(prob)
        self.turns = tuple(int(k) for k in turns)
        self.allow_position_contradiction = bool(allow_position_contradiction)
        self.position_words = tuple(position_words)
        self.horizontal_pairs = _check_pairs(horizontal_pairs, 'horizontal_pairs')
        self.vertical_pairs = _check_pairs(vertical_pairs, 'vertical_pairs')
        self.half_turn_pairs = _check_pairs(self.horizontal_pairs + self.vertical_pairs,
                                            'horizontal_pairs + vertical_pairs')

    @cache_randomness
    def _draw_turns(self) -> int:
        """Draws k: 0 with probability 1 - prob, else uniformly from ``turns``."""
        if np.random.rand() >= self.prob:
            return 0
        return int(np.random.choice(self.turns))

    def _names_positions(self, text: Optional[Text]) -> bool:
        """Whether the caption (or any of the captions) contains a position word."""
        if text is None:
            return False
        texts = [text] if isinstance(text, str) else list(text)
        return any(has_position_words(t, self.position_words) for t in texts)

    def transform(self, results: dict) -> dict:
        """Rotates ``img`` and the ``seg_fields`` maps and updates ``text``.

        Args:
            results: The sample; ``img`` is required, ``text`` and ``seg_fields`` are optional.

        Returns:
            The sample, with ``rotate90_k`` added.
        """
        k = self._draw_turns()
        text = results.get('text')
        if k % 2 == 1 and not self.allow_position_contradiction and self._names_positions(text):
            raise ValueError(
                f'A {90 * k}° rotation of image {results.get("img_path", "<unknown>")} would '
                f'contradict the position words of its caption {text!r}. Use turns=(2,), a '
                'caption without positions, or allow_position_contradiction=True.')
        if k:
            results['img'] = np.ascontiguousarray(np.rot90(results['img'], k))
            for key in results.get('seg_fields', []):
                if results.get(key) is not None:
                    results[key] = np.ascontiguousarray(np.rot90(results[key], k))
            results['img_shape'] = results['img'].shape[:2]
            if k == 2 and text is not None:
                results['text'] = _map_text(text, self.half_turn_pairs)
        results['rotate90_k'] = k
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(prob={self.prob}, turns={self.turns}, '
                f'allow_position_contradiction={self.allow_position_contradiction})')
