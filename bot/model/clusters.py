"""Dense zones of pending liquidations (long below price, short above) with ids that stay stable over time.

Zones: smooth each side's mass with a short moving average, mark bins at least ``cluster_density`` x the mean
non-empty bin, merge dense runs separated by at most ``cluster_gap_bins``, keep the top ``max_clusters`` by USD.

Stable identity: a new zone takes the id of the previous zone of the same side it overlaps most (price overlap
of [low, high]; each previous id used once, biggest new zones first). A zone that overlaps nothing gets a new id
``"{L|S}-" + sha1(side + peak rounded to 0.1%)[:8]``: deterministic, so recomputing the same map gives the same ids.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from bot.model.params import ModelParams
from bot.model.types import Cluster, Side

F64 = npt.NDArray[np.float64]


def new_cluster_id(side: Side, peak: float) -> str:
    """Deterministic id from the side and the peak price rounded to 0.1% (log scale)."""
    bucket = round(math.log(max(peak, 1e-9)) / math.log(1.001))
    digest = hashlib.sha1(f"{side}:{bucket}".encode()).hexdigest()[:8]
    return f"{side[0].upper()}-{digest}"


def _runs(mask: npt.NDArray[np.bool_], gap: int) -> list[tuple[int, int]]:
    """Inclusive index ranges of True runs in ``mask``, merging runs separated by <= ``gap`` False bins."""
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) > gap + 1)
    starts = np.concatenate(([idx[0]], idx[breaks + 1]))
    ends = np.concatenate((idx[breaks], [idx[-1]]))
    return [(int(s), int(e)) for s, e in zip(starts, ends, strict=True)]


def _side_zones(
    side: Side, centres: F64, mass: F64, half_width: float, price: float, total: float, params: ModelParams
) -> list[Cluster]:
    """Zones of one side; ``mass`` (b,) USD already zeroed on the wrong side of price."""
    if total <= 0 or not (mass > 0).any():
        return []
    w = max(int(params.cluster_smooth_bins), 1)
    smooth = np.convolve(mass, np.ones(w) / w, mode="same")
    mean_nz = float(mass[mass > 0].mean())
    dense = smooth >= params.cluster_density * mean_nz
    zones: list[Cluster] = []
    for s, e in _runs(dense, params.cluster_gap_bins):
        usd = float(mass[s : e + 1].sum())
        share = usd / total
        if usd <= 0 or share < params.cluster_min_share:
            continue
        low, high = float(centres[s] - half_width), float(centres[e] + half_width)
        peak = float(centres[s + int(np.argmax(mass[s : e + 1]))])
        near = high if side == "long" else low
        zones.append(Cluster("", side, low, high, peak, usd, share, (near - price) / price * 100.0))
    zones.sort(key=lambda c: -c.usd)
    return zones[: params.max_clusters]


def _assign_ids(zones: list[Cluster], previous: Sequence[Cluster]) -> list[Cluster]:
    """Give each zone the id of its max-overlap previous zone of the same side, else a new deterministic id."""
    used: set[str] = set()
    out: list[Cluster] = []
    for z in zones:
        best, best_ov = "", 0.0
        for p in previous:
            if p.side != z.side or p.id in used:
                continue
            ov = min(z.high, p.high) - max(z.low, p.low)
            if ov > best_ov:
                best, best_ov = p.id, ov
        cid = best or new_cluster_id(z.side, z.peak)
        while cid in used:
            cid = new_cluster_id(z.side, z.peak * 1.001 ** (len(used) + 1))
        used.add(cid)
        out.append(Cluster(cid, z.side, z.low, z.high, z.peak, z.usd, z.share, z.distance_pct))
    return out


def find_clusters(
    bin_price: F64,
    long_usd: F64,
    short_usd: F64,
    price: float,
    params: ModelParams,
    previous: Sequence[Cluster] = (),
) -> tuple[Cluster, ...]:
    """Top zones per side, biggest first (longs then shorts), with stable ids.

    bin_price: (b,) USD uniform bin centres; long_usd/short_usd: (b,) USD pending; price: USD current price.
    ``share`` is each zone's USD over all pending (both sides).
    """
    if bin_price.size < 2:
        return ()
    half = float(bin_price[1] - bin_price[0]) / 2.0
    total = float(long_usd.sum() + short_usd.sum())
    longs = np.where(bin_price < price, long_usd, 0.0)
    shorts = np.where(bin_price > price, short_usd, 0.0)
    zones = _side_zones("long", bin_price, longs, half, price, total, params)
    zones += _side_zones("short", bin_price, shorts, half, price, total, params)
    return tuple(_assign_ids(zones, previous))
