"""The uniform price grid and exact accumulation of uniform-density price intervals into its bins."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Grid:
    """``n_bins`` equal bins covering [lo, hi] USD."""

    lo: float
    hi: float
    n_bins: int

    @property
    def width(self) -> float:
        """Bin width, USD."""
        return (self.hi - self.lo) / self.n_bins

    @property
    def centres(self) -> F64:
        """(n_bins,) USD bin centres, ascending."""
        return np.asarray(self.lo + (np.arange(self.n_bins) + 0.5) * self.width, dtype=np.float64)

    @property
    def edges(self) -> F64:
        """(n_bins + 1,) USD bin edges."""
        return np.asarray(self.lo + np.arange(self.n_bins + 1) * self.width, dtype=np.float64)

    def to_units(self, price: F64) -> F64:
        """Prices (USD, any shape) as continuous bin coordinates (0 = lo edge, n_bins = hi edge)."""
        return np.asarray((price - self.lo) / self.width, dtype=np.float64)


def grid_around(price: float, range_pct: float, n_bins: int) -> Grid:
    """Grid of ``n_bins`` over price * (1 -+ range_pct)."""
    return Grid(lo=price * (1.0 - range_pct), hi=price * (1.0 + range_pct), n_bins=n_bins)


def accumulate_intervals(
    grid: Grid,
    lo_price: F64,
    hi_price: F64,
    mass: F64,
    row: I64 | None = None,
    n_rows: int = 1,
    clean: bool = True,
) -> F64:
    """Spread each interval's mass uniformly over [lo_price, hi_price] and sum it into the grid's bins.

    lo_price/hi_price/mass: (m,) USD bounds (lo < hi, the caller enforces a minimum width) and USD mass.
    row: (m,) int row of each interval in the output (default all 0). Mass outside the grid is dropped.
    Returns (n_rows, n_bins) USD. Exact for the piecewise-constant density: one bincount + one cumsum.
    ``clean`` zeroes rounding residues (~1e-16 x the running sum) left in empty bins; without it only
    negatives are clipped (cheaper, for the heatmap).
    """
    b = grid.n_bins
    ua, uc = grid.to_units(lo_price), grid.to_units(hi_price)
    rho = mass / (uc - ua)
    ua, uc = np.clip(ua, 0.0, b), np.clip(uc, 0.0, b)
    live = (uc > ua) & (mass > 0)
    ua, uc, rho = ua[live], uc[live], rho[live]
    rows = np.zeros(ua.shape, dtype=np.int64) if row is None else row[live].astype(np.int64)
    stride = b + 2
    # Density jumps by +rho at each start and -rho at each end. A jump at continuous position u = fl + frac
    # adds rho*(1-frac) to bin fl and rho to every later bin: in difference form, rho*(1-frac) at fl and
    # rho*frac at fl+1. One bincount of those and one cumsum give the exact mass per bin.
    u = np.concatenate((ua, uc))
    r = np.concatenate((rho, -rho))
    rr = np.concatenate((rows, rows)) * stride
    fl = np.minimum(np.floor(u).astype(np.int64), b)
    frac = u - fl
    at = rr + fl
    idx = np.concatenate((at, at + 1))
    w = np.concatenate((r * (1.0 - frac), r * frac))
    dens = np.cumsum(np.bincount(idx, weights=w, minlength=n_rows * stride))
    if clean:
        tol = 1e-12 * float(np.abs(dens).max()) if dens.size else 0.0
        dens[dens <= tol] = 0.0
    else:
        np.maximum(dens, 0.0, out=dens)
    return np.asarray(dens.reshape(n_rows, stride)[:, :b], dtype=np.float64)
