"""Clusters: sane fields, stable ids across a recompute, a new id for a new zone."""

from __future__ import annotations

import numpy as np

from bot.model.build import build_map
from bot.model.clusters import find_clusters
from bot.model.params import DEFAULT_PARAMS
from tests.model.series import random_series


def _bins() -> np.ndarray:
    return np.linspace(50_000.0, 70_000.0, 1000)


def _bump(centres: np.ndarray, at: float, usd: float, width: float = 150.0) -> np.ndarray:
    shape = np.exp(-0.5 * ((centres - at) / width) ** 2)
    return np.asarray(usd * shape / shape.sum())


def test_cluster_fields_are_sane() -> None:
    m = build_map([random_series(11, n=400)], window="24h")
    assert m.clusters
    for c in m.clusters:
        assert c.low <= c.peak <= c.high
        assert 0.0 <= c.share <= 1.0 and c.usd > 0
        if c.side == "long":
            assert c.high <= m.price * 1.0001 and c.distance_pct <= 0
        else:
            assert c.low >= m.price * 0.9999 and c.distance_pct >= 0
    assert sum(c.share for c in m.clusters) <= 1.0 + 1e-9


def test_ids_stable_across_slightly_moved_data_and_new_zone_gets_new_id() -> None:
    centres = _bins()
    price = 60_000.0
    longs = _bump(centres, 57_000.0, 5e6) + _bump(centres, 55_000.0, 3e6)
    shorts = _bump(centres, 63_000.0, 4e6)
    first = find_clusters(centres, longs, shorts, price, DEFAULT_PARAMS)
    assert {c.side for c in first} == {"long", "short"}
    moved_longs = _bump(centres, 57_060.0, 5.2e6) + _bump(centres, 55_040.0, 2.9e6)
    moved_shorts = _bump(centres, 62_950.0, 4.1e6)
    second = find_clusters(centres, moved_longs, moved_shorts, price * 1.001, DEFAULT_PARAMS, previous=first)
    assert sorted(c.id for c in second) == sorted(c.id for c in first)
    for c in second:
        old = next(o for o in first if o.id == c.id)
        assert old.side == c.side and abs(old.peak - c.peak) < 200.0
    # A fresh zone far from the old ones gets an id nobody had before; the old zones keep theirs.
    third = find_clusters(
        centres, moved_longs, moved_shorts + _bump(centres, 67_000.0, 6e6), price, DEFAULT_PARAMS, previous=second
    )
    new = [c for c in third if abs(c.peak - 67_000.0) < 300.0]
    assert len(new) == 1 and new[0].id not in {c.id for c in second}
    assert {c.id for c in second} <= {c.id for c in third}


def test_same_input_gives_same_ids() -> None:
    centres = _bins()
    longs, shorts = _bump(centres, 57_000.0, 5e6), _bump(centres, 63_000.0, 4e6)
    a = find_clusters(centres, longs, shorts, 60_000.0, DEFAULT_PARAMS)
    b = find_clusters(centres, longs, shorts, 60_000.0, DEFAULT_PARAMS)
    assert [c.id for c in a] == [c.id for c in b]


def test_empty_map_has_no_clusters() -> None:
    centres = _bins()
    assert find_clusters(centres, np.zeros(1000), np.zeros(1000), 60_000.0, DEFAULT_PARAMS) == ()
