"""What every module test expects of the engine's output, in one place."""

from __future__ import annotations

import json
from datetime import date, datetime, time

import numpy as np
import pandas as pd
import pytest

from quant_assets.modules.declaration import ModuleDeclaration
from quant_assets.modules.engine import ModuleOutput
from quant_assets.raw.offline import raw_table
from quant_assets.sources.simulated.source import SimulatedMarket


def assert_explanations_add_up(declaration: ModuleDeclaration, output: ModuleOutput, *, sample: int = 200,
                               min_rows: int = 1) -> list[dict]:
    """On about ``sample`` scored rows: contributions + offset equal the unclipped score
    (1e-12), the score is the unclipped value clipped to the module's range, and every
    component is explained. Returns the parsed records for module-specific checks."""
    composite = output.composite
    scored = np.flatnonzero(composite.score.notna().to_numpy())
    assert len(scored) >= min_rows
    low, high = declaration.score_range
    names = {c.name for c in declaration.components}
    records = []
    for row in scored[:: max(len(scored) // sample, 1)]:
        record = json.loads(output.explain[row])
        total = sum(c["contribution"] for c in record["components"]) + record["offset"]
        assert total == pytest.approx(record["unclipped"], abs=1e-12)
        assert record["unclipped"] == pytest.approx(composite.unclipped.iloc[row], abs=1e-12)
        assert np.clip(record["unclipped"], low, high) == pytest.approx(composite.score.iloc[row], abs=1e-12)
        assert {c["name"] for c in record["components"]} == names
        records.append({**record, "row": int(row)})
    return records


def assert_same_from(declaration: ModuleDeclaration, long: ModuleOutput, short: ModuleOutput,
                     since: pd.Timestamp) -> None:
    """Two computations that began at different times agree from ``since`` on: the score
    (warm there) to 1e-9, and every node's values to 1e-9."""
    a, b = long.composite.score.loc[since:], short.composite.score.loc[since:]
    assert a.notna().all()
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=0, atol=1e-9)
    for name in declaration.nodes:
        np.testing.assert_allclose(long.nodes[name].loc[since:].to_numpy(),
                                   short.nodes[name].loc[since:].to_numpy(), rtol=1e-9, atol=1e-9,
                                   err_msg=name)


def window(raw: dict[str, pd.DataFrame], start: pd.Timestamp, end: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """The raw tables cut to ``[start, end)``, as a run over that range would load them."""
    return {family: table[(table["ts"] >= start) & (table["ts"] < end)] for family, table in raw.items()}


def next_bar_return(raw: dict[str, pd.DataFrame], symbol: str) -> pd.Series:
    """``log(close[t+1] / close[t])`` labelled ``t``: the return of the bar after ``t``."""
    klines = raw["spot_klines"]
    close = klines[klines["symbol"] == symbol].set_index("ts")["close"].astype(float)
    close.index = pd.DatetimeIndex(close.index).as_unit("ns")
    return np.log(close.shift(-1) / close)


def simulated_klines(seed: int, symbols: tuple[str, ...], first: date, end: pd.Timestamp) -> dict:
    """Hourly spot klines of ``symbols`` from ``first`` to ``end`` and their planted truth."""
    source = SimulatedMarket(seed=seed)
    last = (end - pd.Timedelta(days=1)).date()
    klines = raw_table(source, "spot_klines", symbols, first, last)
    truth = {s: source.truth(s, datetime.combine(first, time()), end.to_pydatetime()) for s in symbols}
    return {"raw": {"spot_klines": klines}, "truth": truth}


def next_bar_rank_ic(panel: pd.DataFrame, *, min_bars: int = 12) -> tuple[float, pd.Series, float]:
    """Rank IC of ``score`` with ``forward`` (columns of ``panel``, indexed by bar, with a
    ``symbol`` column): pooled, per symbol-day (days with at least ``min_bars`` bars), and
    the t-statistic of the symbol-day mean. Prints the figures for the test log."""
    pooled = panel["score"].corr(panel["forward"], method="spearman")
    days = panel[["score", "forward"]].groupby([panel["symbol"], panel.index.floor("D")])
    daily = days.apply(lambda g: g["score"].corr(g["forward"], method="spearman"))[days.size() >= min_bars]
    t_stat = daily.mean() / daily.std(ddof=1) * np.sqrt(len(daily))
    print(f"rank IC with the next bar's return: pooled {pooled:.3f} over {len(panel)} bars; "
          f"symbol-day mean {daily.mean():.3f}, t = {t_stat:.2f}, positive on {(daily > 0).mean():.0%} "
          f"of {len(daily)} symbol-days")
    return pooled, daily, t_stat
