"""Outstanding liquidation levels reconstructed from open-interest flow.

The one model behind ``liquidation_heatmap`` (family C) and
``liquidation_zones`` (family G); each metric is a view of the ladder built
here (the heatmap bins its notional by distance from the close, the zones
summarize it per side). Reconstruction, as publicly described for the
Coinglass/Hyblock heatmaps:

1. At bar ``s`` with ``ΔOI_s > 0`` the new notional ``ΔOI_s C_s`` is split into
   longs (share ``λ_s``, chosen by the caller) and shorts, and across the
   leverage tiers ``L_i`` by the weights ``w_i``.
2. Liquidation price, isolated margin, linear contract, fees and the
   per-bracket maintenance amount ignored: long ``C_s (1 - 1/L + mmr)``, short
   ``C_s (1 + 1/L - mmr)`` (10x at 100 with mmr 0.5 %: 90.5 and 109.5).
3. When open interest falls, every tracked position shrinks pro rata by
   ``OI_u/OI_{u-1}`` (closures hit old and new positions alike); a bar after
   zero open interest shrinks nothing.
4. A level is gone once a later bar trades through it: a low at or below a
   long level, a high at or above a short level.
5. Positions opened more than ``lookback - 1`` bars before ``t`` are dropped.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from quant_assets.metrics import _numeric as nm
from quant_assets.metrics.registry import between

#: Default leverage tiers of new positions and the share of new notional in each.
LEVERAGES: tuple[float, ...] = (5.0, 10.0, 25.0, 50.0, 100.0)
LEVERAGE_WEIGHTS: tuple[float, ...] = (0.1, 0.3, 0.3, 0.2, 0.1)

#: Direction of each side's liquidation price from the entry (long below, short above).
SIDES: Mapping[str, float] = {"long": -1.0, "short": 1.0}


def check_leverages(value: Any, params: Mapping[str, Any]) -> str | None:
    """Constraint on ``leverages``: a non-empty sequence of tiers in ``(1, 1/mmr)``."""
    try:
        tiers = [float(v) for v in value]
    except (TypeError, ValueError):
        return f"must be a sequence of numbers (got {value!r})"
    if not tiers:
        return "must hold at least one leverage tier"
    bad = [lev for lev in tiers if not (lev > 1.0 and 1.0 / lev > params["mmr"])]
    if bad:
        return (
            f"tiers must exceed 1 and stay below 1/mmr = {1.0 / params['mmr']:g}, "
            f"so a liquidation price lies beyond the entry (got {bad})"
        )
    return None


def check_leverage_weights(value: Any, params: Mapping[str, Any]) -> str | None:
    """Constraint on ``leverage_weights``: one weight >= 0 per tier, summing to 1."""
    try:
        weights = [float(v) for v in value]
        tiers = len(params["leverages"])
    except (TypeError, ValueError):
        return f"must be a sequence of numbers (got {value!r})"
    if len(weights) != tiers:
        return f"must have one weight per leverage tier ({tiers}), got {len(weights)}"
    if min(weights) < 0.0 or abs(sum(weights) - 1.0) > 1e-9:
        return f"must be >= 0 and sum to 1 (got {weights})"
    return None


#: Parameters and constraints of the ladder that both liquidation metrics declare
#: (``mmr`` is checked first: the tiers are checked against it).
LADDER_PARAMS: dict[str, Any] = {"mmr": 0.005, "leverages": LEVERAGES, "leverage_weights": LEVERAGE_WEIGHTS}
LADDER_CONSTRAINTS: dict[str, Any] = {
    "mmr": between(0.0, 0.5, inclusive=False),
    "leverages": check_leverages,
    "leverage_weights": check_leverage_weights,
}


@dataclass(frozen=True)
class Ladder:
    """The outstanding levels at a block of bars ``rows``.

    ``levels[side]`` and ``notional[side]`` are ``(tiers, len(rows), lookback)``
    arrays: entry ``[i, r, a]`` is the liquidation price and the surviving
    quote notional of the tier-``i`` positions opened ``a`` bars before
    ``rows[r]`` (notional 0 where none were opened, or the level is gone).
    """

    rows: np.ndarray
    levels: Mapping[str, np.ndarray]
    notional: Mapping[str, np.ndarray]

    def total(self, side: str) -> np.ndarray:
        """Outstanding notional of a side at each bar of ``rows``."""
        return self.notional[side].sum(axis=(0, 2))


def distance(levels: np.ndarray, close: np.ndarray, side: str) -> np.ndarray:
    """Distance from ``close`` to a side's liquidation ``levels`` as a fraction
    of ``close``, positive on the side's own side of the price."""
    return SIDES[side] * (levels - close) / close


def _newest_first(x: np.ndarray, lookback: int, fill: float) -> np.ndarray:
    """Row ``t`` holds ``x[t], x[t-1], .., x[t-lookback+1]`` (``fill`` before the start)."""
    padded = np.concatenate((np.full(lookback - 1, fill), x))
    return sliding_window_view(padded, lookback)[:, ::-1]


def _since(ufunc: np.ufunc, windows: np.ndarray, empty: float) -> np.ndarray:
    """Column ``a`` of the result: ``ufunc`` over columns ``0 .. a-1`` of newest-first
    ``windows``, i.e. over the bars after the one ``a`` bars back (``empty`` for ``a = 0``)."""
    out = np.empty(windows.shape)
    out[:, 0] = empty
    ufunc.accumulate(windows[:, :-1], axis=1, out=out[:, 1:])
    return out


def liquidation_ladder(
    data: pd.DataFrame,
    long_share: np.ndarray,
    *,
    lookback: int,
    mmr: float,
    leverages: Sequence[float],
    leverage_weights: Sequence[float],
) -> Iterator[Ladder]:
    """The outstanding liquidation ladder at every bar, in blocks of bars.

    Parameters
    ----------
    data : DataFrame
        Bars with ``high``, ``low``, ``close`` (price units, > 0) and
        ``open_interest`` (contracts, >= 0), validated by the caller.
    long_share : ndarray
        ``λ_s`` per bar: share of the bar's new notional that opens longs, in
        [0, 1] (a fixed assumption, or the bar's taker buy share).
    lookback : int
        Bars a position is tracked, the bar that opened it included.
    mmr : float
        Maintenance margin rate.
    leverages, leverage_weights : sequence of float
        Leverage tiers of new positions and the share of new notional in each
        (validated by :func:`check_leverages` and :func:`check_leverage_weights`).

    Yields
    ------
    Ladder
        Blocks of consecutive bars covering ``0 .. n-1`` in order, each of
        about :data:`_numeric.CHUNK_CELLS` cells per array.
    """
    high, low, close, open_interest = (nm.column(data, c) for c in ("high", "low", "close", "open_interest"))
    n = len(close)
    inverse = 1.0 / np.asarray(leverages, dtype=np.float64)
    factor = {"long": 1.0 - inverse + mmr, "short": 1.0 + inverse - mmr}  # liquidation price / entry
    weights = np.asarray(leverage_weights, dtype=np.float64)
    new_notional = np.zeros(n)  # bar 0 has no ΔOI
    new_notional[1:] = np.maximum(np.diff(open_interest), 0.0) * close[1:]
    opened = {"long": new_notional * long_share, "short": new_notional * (1.0 - long_share)}
    before = open_interest[:-1]
    kept = np.ones(n)  # share of the positions of bar u-1 still open at bar u
    kept[1:] = np.where(
        before > 0.0, np.minimum(open_interest[1:] / np.where(before > 0.0, before, 1.0), 1.0), 1.0
    )
    kept_windows = _newest_first(kept, lookback, 1.0)
    # Per side: the running extreme of later bars that takes a level out, and
    # the test that the level is still beyond it (long: below every later low).
    removal = {
        "long": (_newest_first(low, lookback, np.inf), np.minimum, np.inf, np.less),
        "short": (_newest_first(high, lookback, -np.inf), np.maximum, -np.inf, np.greater),
    }
    ages = np.arange(lookback)
    step = max(1, nm.CHUNK_CELLS // (lookback * len(inverse)))
    for lo in range(0, n, step):  # memory-bounded blocks; each is vectorized
        rows = np.arange(lo, min(n, lo + step))
        # Bar s = t - age opened the positions; bars before the series opened nothing.
        s = np.maximum(rows[:, None] - ages[None, :], 0)
        survived = _since(np.multiply, kept_windows[rows], 1.0)
        entry = close[s]
        levels: dict[str, np.ndarray] = {}
        notional: dict[str, np.ndarray] = {}
        for side, (windows, running, empty, alive) in removal.items():
            extreme = _since(running, windows[rows], empty)
            levels[side] = factor[side][:, None, None] * entry
            size = weights[:, None, None] * (opened[side][s] * survived)
            notional[side] = np.where(alive(levels[side], extreme), size, 0.0)
        yield Ladder(rows=rows, levels=levels, notional=notional)
