"""A bounded least-recently-used cache for per-caption text embeddings."""
from collections import OrderedDict
from typing import Any, Hashable, Optional

from ..layers.checks import is_int

__all__ = ['EmbeddingCache']


class EmbeddingCache:
    """Bounded LRU cache mapping a key (a caption string) to a value (its embeddings).

    A frozen text encoder maps the same caption to the same features, so it can compute each
    distinct caption once and reuse the result. The cache holds at most ``max_size`` entries; when
    a new entry would exceed that, the least recently used one (the one read or written longest
    ago) is evicted. Values are stored as given: store detached, compact tensors (``clone()`` a
    row rather than keeping a view into a batch, which would keep the whole batch alive).

    Args:
        max_size: Maximum number of entries. Must be at least 1.

    Attributes:
        hits: Number of :meth:`get` calls that found their key.
        misses: Number of :meth:`get` calls that did not.

    Example:
        >>> cache = EmbeddingCache(max_size=2)
        >>> cache.put('a', 1)
        >>> cache.get('a'), cache.get('b')
        (1, None)
        >>> cache.hits, cache.misses
        (1, 1)
    """

    def __init__(self, max_size: int) -> None:
        if not is_int(max_size) or max_size < 1:
            raise ValueError(f'max_size must be an int >= 1, got {max_size!r}')
        self.max_size = max_size
        self.hits = 0
        self.misses = 0
        self._entries: 'OrderedDict[Hashable, Any]' = OrderedDict()

    def get(self, key: Hashable) -> Optional[Any]:
        """Returns the value stored for ``key`` and marks it most recently used.

        Args:
            key: The key to look up.

        Returns:
            The stored value, or None when ``key`` is not cached. Counts a hit or a miss.
        """
        if key in self._entries:
            self._entries.move_to_end(key)
            self.hits += 1
            return self._entries[key]
        self.misses += 1
        return None

    def put(self, key: Hashable, value: Any) -> None:
        """Stores ``value`` under ``key`` as the most recently used entry.

        Replaces an existing value for ``key``. Evicts least recently used entries while the cache
        holds more than ``max_size`` entries.

        Args:
            key: The key, e.g. a caption.
            value: The value, e.g. a ``(feats, pad_mask)`` tuple of tensors.
        """
        if value is None:
            raise ValueError(f'cannot cache None for key {key!r}: get() uses None for a miss')
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_size:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        """Removes every entry. The ``hits`` and ``misses`` counters are kept."""
        self._entries.clear()

    def reset_stats(self) -> None:
        """Sets the ``hits`` and ``misses`` counters back to zero."""
        self.hits = 0
        self.misses = 0

    def __contains__(self, key: Hashable) -> bool:
        """Whether ``key`` is cached. Counts neither a hit nor a miss and keeps the LRU order."""
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(max_size={self.max_size}, size={len(self)}, '
                f'hits={self.hits}, misses={self.misses})')
