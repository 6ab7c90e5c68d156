"""Bounded building blocks for caches: a size- and age-bounded cache, and per-key locks forgotten when idle. Memory
stays bounded whatever keys users invent."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedTtlCache(Generic[K, V]):
    """At most ``max_entries`` values, each kept until its expiry time (the caller's clock, e.g. ms); the least
    recently used entry is dropped first when full. Memory stays bounded whatever keys users invent."""

    def __init__(self, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError("a bounded cache needs max_entries >= 1")
        self.max_entries = max_entries
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def get(self, key: K, now: float) -> V | None:
        """The value of ``key`` when it has not expired at ``now`` (then it becomes the most recent), else None."""
        hit = self._items.get(key)
        if hit is None:
            return None
        if now >= hit[0]:
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return hit[1]

    def put(self, key: K, value: V, expires_at: float, now: float) -> None:
        """Store ``value`` until ``expires_at``; drops expired entries, then the least recently used ones."""
        self._items[key] = (expires_at, value)
        self._items.move_to_end(key)
        for old in [k for k, (until, _) in self._items.items() if now >= until]:
            del self._items[old]
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)


class KeyedLocks(Generic[K]):
    """One ``asyncio.Lock`` per key while anyone holds or waits for it; forgotten as soon as nobody does, so the
    number of locks is bounded by the requests in flight, not by the keys ever seen."""

    def __init__(self) -> None:
        self._locks: dict[K, tuple[asyncio.Lock, int]] = {}

    def __len__(self) -> int:
        return len(self._locks)

    @asynccontextmanager
    async def hold(self, key: K) -> AsyncIterator[None]:
        """``async with locks.hold(key):`` runs the block with ``key``'s lock held."""
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)
