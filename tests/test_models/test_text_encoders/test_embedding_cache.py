import pytest
import torch

from vlseg.models.text_encoders.embedding_cache import EmbeddingCache


def test_get_put_counts_hits_and_misses():
    cache = EmbeddingCache(max_size=4)
    assert len(cache) == 0 and cache.max_size == 4
    assert cache.get('a') is None
    value = (torch.zeros(3, 2), torch.zeros(3, dtype=torch.bool))
    cache.put('a', value)
    assert cache.get('a') is value
    assert cache.get('b') is None
    assert (cache.hits, cache.misses) == (1, 2)
    assert len(cache) == 1
    # membership tests neither count nor change the LRU order
    assert 'a' in cache and 'b' not in cache
    assert (cache.hits, cache.misses) == (1, 2)


def test_evicts_least_recently_used():
    cache = EmbeddingCache(max_size=2)
    cache.put('a', 1)
    cache.put('b', 2)
    assert cache.get('a') == 1  # 'b' is now the least recently used
    cache.put('c', 3)
    assert len(cache) == 2
    assert 'b' not in cache and 'a' in cache and 'c' in cache
    cache.put('a', 10)  # overwriting refreshes 'a'; 'c' is now the oldest
    cache.put('d', 4)
    assert 'c' not in cache
    assert cache.get('a') == 10 and cache.get('d') == 4


def test_max_size_one():
    cache = EmbeddingCache(max_size=1)
    cache.put('a', 1)
    cache.put('b', 2)
    assert len(cache) == 1 and 'b' in cache and 'a' not in cache


def test_clear_keeps_counters_and_reset_stats():
    cache = EmbeddingCache(max_size=3)
    cache.put('a', 1)
    cache.get('a')
    cache.get('z')
    cache.clear()
    assert len(cache) == 0 and cache.get('a') is None
    assert (cache.hits, cache.misses) == (1, 2)
    cache.reset_stats()
    assert (cache.hits, cache.misses) == (0, 0)


@pytest.mark.parametrize('max_size', [0, -1, 1.5, True, None])
def test_bad_max_size_raises(max_size):
    with pytest.raises(ValueError, match='max_size'):
        EmbeddingCache(max_size=max_size)


def test_put_none_raises():
    with pytest.raises(ValueError, match='None'):
        EmbeddingCache(max_size=2).put('a', None)
