"""Properties every per-symbol metric in the catalog must have.

These tests read the catalog, so a metric family added later is covered without
touching this file. Metrics whose defaults make a test slow (long model-fit
windows) get smaller parameters in :data:`FAST_PARAMS`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from quant_assets.metrics import catalog, compute, get
from quant_assets_tests.metrics.signals import synthetic_inputs

#: Test-only parameter overrides that keep model refits few and small.
FAST_PARAMS: dict[str, dict[str, Any]] = {
    "garch_vol": {"window": 300, "refit_every": "1D"},
    "regime_switching": {"window": 300, "refit_every": "4D"},
}

PER_SYMBOL = [name for name, kind in catalog()["kind"].items() if kind == "per_symbol"]


def inputs_for(name: str, extra_bars: int = 500, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    spec = get(name)
    params = FAST_PARAMS.get(name, {})
    warmup = spec.warmup_bars(**params)
    data = synthetic_inputs(spec.inputs, warmup + extra_bars, seed=seed)
    return data, params


def cut_points(data: pd.DataFrame, warmup: int) -> list[int]:
    """Positions to cut at: just after the warm-up, the first bar of a day (a
    refit boundary) and the bar after it, the middle, and the second-last bar."""
    n = len(data)
    middle = (warmup + n) // 2
    day_starts = np.flatnonzero(data.index.hour == 0)
    boundary = int(day_starts[day_starts > middle][0]) if (day_starts > middle).any() else middle
    points = {warmup, warmup + 1, middle, boundary, boundary + 1, n - 2}
    return sorted(p for p in points if warmup <= p < n - 1)


@pytest.mark.parametrize("name", PER_SYMBOL)
def test_no_look_ahead_values_up_to_t_do_not_change_when_later_bars_arrive(name: str) -> None:
    data, params = inputs_for(name)
    full = compute(name, data, **params)
    warmup = get(name).warmup_bars(**params)
    for t in cut_points(data, warmup):
        cut = compute(name, data.iloc[: t + 1], **params)
        expected = full.iloc[: t + 1]
        if isinstance(full, pd.Series):
            pd.testing.assert_series_equal(cut, expected, rtol=1e-9, atol=1e-12)
        else:
            pd.testing.assert_frame_equal(cut, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", PER_SYMBOL)
def test_warm_up_is_the_first_bar_where_every_output_can_have_a_value(name: str) -> None:
    data, params = inputs_for(name, seed=1)
    result = compute(name, data, **params)
    complete = (result.to_frame() if isinstance(result, pd.Series) else result).notna().all(axis=1)
    warmup = get(name).warmup_bars(**params)
    assert not complete.iloc[:warmup].any()
    if "refit_every" in get(name).params:
        # Model fits start at the first refit boundary after the warm-up.
        assert complete.iloc[warmup:].any()
    else:
        assert complete.iloc[warmup]


@pytest.mark.parametrize("name", [n for n in PER_SYMBOL if get(n).value_range is not None])
def test_values_stay_within_the_declared_range(name: str) -> None:
    low, high = get(name).value_range
    for seed in (2, 3):
        data, params = inputs_for(name, extra_bars=1000, seed=seed)
        result = compute(name, data, **params)
        values = np.asarray(result, dtype=float).ravel()
        values = values[~np.isnan(values)]
        assert values.size
        assert (values >= low - 1e-9).all() and (values <= high + 1e-9).all()


REFIT = [name for name in PER_SYMBOL if "refit_every" in get(name).params]


@pytest.mark.parametrize("name", REFIT)
def test_scheduled_refits_do_not_depend_on_where_the_series_starts(name: str) -> None:
    """A partition that starts later gives the same values once its first refit
    has a full trailing window: the schedule is a function of time alone."""
    data, params = inputs_for(name, extra_bars=400, seed=4)
    full = compute(name, data, **params)
    late = compute(name, data.iloc[100:], **params)
    late_frame = late.to_frame() if isinstance(late, pd.Series) else late
    full_frame = full.to_frame() if isinstance(full, pd.Series) else full
    common = late_frame.dropna(how="all").index
    assert len(common) > 100
    pd.testing.assert_frame_equal(late_frame.loc[common], full_frame.loc[common], rtol=1e-8)
