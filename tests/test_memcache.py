"""The in-memory LRU of hot outputs: counted in bytes, oversize items skipped, prefixes dropped."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from imageserver.memcache import ByteLRU


def _cache(max_bytes: int = 10, max_item_bytes: int = 10) -> ByteLRU[str]:
    return ByteLRU(max_bytes, max_item_bytes)


def _kept(cache: ByteLRU[str], *keys: str) -> list[str]:
    return [key for key in keys if cache.get(key) is not None]


def test_get_returns_what_was_put() -> None:
    cache = _cache()
    assert cache.get("a") is None
    cache.put("a", "A", 4)
    assert cache.get("a") == "A"
    assert (len(cache), cache.used_bytes) == (1, 4)


def test_evicts_the_least_recently_used_by_bytes() -> None:
    cache = _cache()
    cache.put("a", "A", 4)
    cache.put("b", "B", 4)
    cache.get("a")  # b is now the least recently used
    cache.put("c", "C", 4)
    assert _kept(cache, "a", "b", "c") == ["a", "c"]
    assert cache.used_bytes == 8


def test_one_large_item_evicts_several_small_ones() -> None:
    cache = _cache()
    for key in "abc":
        cache.put(key, key.upper(), 3)
    cache.put("d", "D", 9)
    assert _kept(cache, "a", "b", "c", "d") == ["d"]
    assert cache.used_bytes == 9


def test_a_full_cache_of_exact_size_keeps_everything() -> None:
    cache = _cache()
    for key in "ab":
        cache.put(key, key.upper(), 5)
    assert _kept(cache, "a", "b") == ["a", "b"]
    assert cache.used_bytes == 10


def test_oversize_items_are_not_kept() -> None:
    cache = _cache(max_bytes=100, max_item_bytes=10)
    cache.put("small", "S", 10)
    cache.put("big", "B", 11)
    assert _kept(cache, "small", "big") == ["small"]
    assert cache.used_bytes == 10


def test_item_limit_never_exceeds_the_cache() -> None:
    cache = _cache(max_bytes=10, max_item_bytes=100)
    assert cache.max_item_bytes == 10
    cache.put("big", "B", 11)
    assert (len(cache), cache.used_bytes) == (0, 0)


def test_a_zero_byte_cache_keeps_nothing_that_has_a_size() -> None:
    cache = _cache(max_bytes=0, max_item_bytes=1024)
    cache.put("a", "A", 1)
    assert (len(cache), cache.used_bytes) == (0, 0)


def test_put_replaces_and_recounts() -> None:
    cache = _cache()
    cache.put("a", "old", 6)
    cache.put("a", "new", 3)
    assert cache.get("a") == "new"
    assert (len(cache), cache.used_bytes) == (1, 3)


def test_an_oversize_replacement_does_not_leave_the_old_value() -> None:
    cache = _cache(max_bytes=100, max_item_bytes=10)
    cache.put("a", "old", 5)
    cache.put("a", "new", 50)
    assert cache.get("a") != "old"


def test_discard() -> None:
    cache = _cache()
    cache.put("a", "A", 4)
    cache.discard("a")
    cache.discard("missing")
    assert (len(cache), cache.used_bytes, cache.get("a")) == (0, 0, None)


def test_discard_prefix() -> None:
    cache = _cache(max_bytes=100)
    gone = ["p/6e0/aaa/w200.jpg", "p/6e0/aaa/x50.webp"]
    kept = ["p/6e0/aab/w200.jpg", "q/6e0/aaa/w200.jpg"]
    for key in gone + kept:
        cache.put(key, key, 5)
    cache.discard_prefix("p/6e0/aaa/")
    assert _kept(cache, *gone, *kept) == kept
    assert cache.used_bytes == 10


@settings(max_examples=300)
@given(st.lists(st.tuples(st.sampled_from("abcdefgh"), st.integers(0, 14)), max_size=40))
def test_bytes_stay_within_the_limit(puts: list[tuple[str, int]]) -> None:
    cache = _cache(max_bytes=20, max_item_bytes=12)
    for key, size in puts:
        cache.put(key, f"{key}{size}", size)
        assert cache.used_bytes <= cache.max_bytes
        if size <= cache.max_item_bytes:
            assert cache.get(key) == f"{key}{size}"
    assert cache.used_bytes >= 0
    assert len(cache) <= len({key for key, _ in puts})


def test_items_never_hit_hold_no_more_than_the_probation() -> None:
    cache: ByteLRU[str] = ByteLRU(100, 10, probation_bytes=10)
    cache.put("hot", "H", 5)
    assert cache.get("hot") == "H"  # a hit: protected from now on
    for key in "abcdefgh":  # a crawl of outputs asked for once
        cache.put(key, key, 5)
    assert _kept(cache, "hot", "a", "f", "g", "h") == ["hot", "g", "h"]
    assert cache.used_bytes == 15


def test_protected_items_without_room_go_back_to_probation() -> None:
    cache: ByteLRU[str] = ByteLRU(10, 10, probation_bytes=5)
    for key in "ab":  # protected holds 5: a goes back to probation when b comes in
        cache.put(key, key, 5)
        cache.get(key)
    cache.put("c", "c", 5)  # probation holds 5: a, its least recently used, goes
    assert [key for key in "abc" if key in cache] == ["b", "c"]
    assert cache.used_bytes == 10
