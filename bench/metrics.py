"""Time the metric catalog: classical indicators against TA-Lib, then every per-symbol metric.

Run with ``python bench/metrics.py`` (options: ``--repeat N``, ``--skip-1m``,
``--classical-only``).

Every time is the **median** of ``--repeat`` runs of ``quant_assets.metrics.compute``
with default parameters, input validation included: other processes share the
machine's cores, and a median ignores the runs they slow down where a mean or a
single run would not.

Classical indicators are timed against the TA-Lib call(s) that produce the same
columns on the same numpy arrays, one run of ours and one of TA-Lib in turn, so
that both sides see the same conditions. Both are single-threaded, so their time
is measured as the CPU time of the calling thread (``time.thread_time``), which
leaves out the slices the scheduler gives to other processes; the wall-clock
ratio is printed beside it. The budget is 3x TA-Lib's time on 1,000,000 bars,
and a ratio above it is flagged. The same table gives the registry's input
validation (part of our time) on its own.

Then every per-symbol metric is timed (wall clock: some use multi-threaded
libraries) on one symbol-year (8,760 hourly bars) and on 1,000,000 bars (a third
of the runs there, without a warm-up call: the slowest take seconds each);
columns a metric needs beyond OHLCV are positive random walks, as in the metric
property tests, and a metric whose default warm-up is longer than the series is
listed but not run. Metrics that fit a model on a refit schedule (GARCH, Markov
switching, ...) are listed apart: their cost is one fit per refit period, so
they are timed once, on the symbol-year only.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import talib

from quant_assets.metrics import catalog, compute, get

SYMBOL_YEAR = 8_760
ONE_MILLION = 1_000_000
#: Ours over TA-Lib on 1M bars that a classical indicator may not exceed.
BUDGET = 3.0


def synthetic_bars(n: int, columns: tuple[str, ...] = (), seed: int = 0) -> pd.DataFrame:
    """Hourly OHLCV bars whose returns follow a GARCH(1,1), as crypto returns cluster.

    Hourly volatility is about 0.45 % (ω = 0.002, α = 0.08, β = 0.90, in percent²),
    so the model-fitting metrics see the structure they are built for. Any other
    column in ``columns`` (funding, open interest, book sizes, ...) is a positive
    random walk, as in the metric property tests.
    """
    from arch.univariate import GARCH, Normal, ZeroMean

    rng = np.random.default_rng(seed)
    process = ZeroMean(volatility=GARCH(), distribution=Normal(seed=rng))
    returns = process.simulate([0.002, 0.08, 0.90], n, burn=1000).data.to_numpy() / 100.0
    close = 50_000.0 * np.exp(np.cumsum(returns))
    open_ = np.r_[50_000.0, close[:-1]]
    wick = np.abs(rng.normal(0.0, 0.002, (2, n)))
    data = {
        "open": open_,
        "high": np.maximum(open_, close) * (1.0 + wick[0]),
        "low": np.minimum(open_, close) * (1.0 - wick[1]),
        "close": close,
        "volume": rng.lognormal(3.0, 0.5, n),
    }
    for name in columns:
        if name not in data:
            data[name] = 10.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    return pd.DataFrame(data, index=pd.date_range("2020-01-01", periods=n, freq="h"))


def talib_equivalents(bars: pd.DataFrame) -> dict[str, Callable[[], Any]]:
    """TA-Lib calls producing the same columns as our classical indicators (defaults)."""
    c, h, lo = (np.ascontiguousarray(bars[k].to_numpy(dtype=np.float64)) for k in ("close", "high", "low"))
    return {
        "sma": lambda: talib.SMA(c, 30),
        "ema": lambda: talib.EMA(c, 30),
        "rsi": lambda: talib.RSI(c, 14),
        "stoch_rsi": lambda: talib.SMA(talib.STOCHRSI(c, 14, 14, 3, 0)[1], 3),
        "macd": lambda: talib.MACD(c, 12, 26, 9),
        "bbands": lambda: talib.BBANDS(c, 20, 2, 2, 0),
        "bb_width": lambda: talib.BBANDS(c, 20, 2, 2, 0),
        "atr": lambda: talib.ATR(h, lo, c, 14),
        "adx": lambda: (
            talib.ADX(h, lo, c, 14),
            talib.PLUS_DI(h, lo, c, 14),
            talib.MINUS_DI(h, lo, c, 14),
        ),
        "momentum": lambda: (talib.MOM(c, 10), talib.ROC(c, 10)),
    }


def timed(func: Callable[[], Any], clock: Callable[[], float] = time.perf_counter) -> float:
    """Time of one call on ``clock`` (wall clock by default), in milliseconds."""
    start = clock()
    func()
    return (clock() - start) * 1e3


@contextmanager
def no_gc() -> Iterator[None]:
    """Collect garbage, then keep the collector off while timing (as timeit does):
    a collection would otherwise land in whichever run it happens to fall on."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def median_ms(
    func: Callable[[], Any],
    repeat: int,
    clock: Callable[[], float] = time.perf_counter,
    *,
    warm_up: bool = True,
) -> float:
    """Median time of ``repeat`` calls, in milliseconds (after one untimed call if ``warm_up``)."""
    if warm_up:
        func()
    with no_gc():
        return statistics.median(timed(func, clock) for _ in range(repeat))


def paired_median_ms(
    ours: Callable[[], Any], reference: Callable[[], Any], repeat: int, clock: Callable[[], float]
) -> tuple[float, float]:
    """Median times of ``ours`` and ``reference``, run in turn ``repeat`` times each."""
    ours()
    reference()
    with no_gc():
        pairs = [(timed(ours, clock), timed(reference, clock)) for _ in range(repeat)]
    return statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)


def fmt(ms: float | None) -> str:
    if ms is None:
        return "-"
    return f"{ms:,.2f}" if ms < 100 else f"{ms:,.0f}"


def classical_table(repeat: int, sizes: list[int]) -> bool:
    """Print ours vs TA-Lib per classical indicator; True when all 1M ratios are within budget."""
    within = True
    header = f"{'metric':<12}"
    for n in sizes:
        label = "1y" if n == SYMBOL_YEAR else "1M"
        header += f"{label + ' ours ms':>13}{'TA-Lib ms':>11}{'ratio':>8}"
    header += f"{'wall ratio':>12}{'validation ms':>15}  budget (1M, <= {BUDGET:.0f}x)"
    print(
        f"Classical indicators vs TA-Lib: median thread CPU time of {repeat} alternating runs, "
        "validation included"
    )
    print(header)
    print("-" * len(header))
    bars_by_size = {n: synthetic_bars(n) for n in sizes}
    references = {n: talib_equivalents(bars) for n, bars in bars_by_size.items()}
    for name in references[sizes[0]]:
        line = f"{name:<12}"
        ratio = 0.0
        for n in sizes:
            ours_call, ref_call = (lambda b=bars_by_size[n], m=name: compute(m, b)), references[n][name]
            ours, ref = paired_median_ms(ours_call, ref_call, repeat, time.thread_time)
            ratio = ours / ref
            line += f"{fmt(ours):>13}{fmt(ref):>11}{ratio:>7.2f}x"
        wall_ours, wall_ref = paired_median_ms(ours_call, ref_call, repeat, time.perf_counter)
        spec, big = get(name), bars_by_size[sizes[-1]]
        validation = median_ms(lambda s=spec, b=big: s.validate(b, {}), repeat, time.thread_time)
        line += f"{wall_ours / wall_ref:>11.2f}x{fmt(validation):>15}"
        if sizes[-1] == ONE_MILLION:
            ok = ratio <= BUDGET
            within &= ok
            line += "  ok" if ok else f"  ** OVER {BUDGET:.0f}x **"
        print(line)
    print("-" * len(header))
    return within


def too_long(name: str, n: int, results: dict[tuple[str, int], float | None]) -> str:
    """A note for a metric that was not run on ``n`` rows because its warm-up is longer."""
    if results[(name, n)] is not None:
        return ""
    return f"   (not run: warm-up of {get(name).warmup_bars():,} rows)"


def catalog_table(repeat: int, sizes: list[int]) -> None:
    """Print the time of every per-symbol metric, model fits apart."""
    table = catalog()
    names = [n for n in table.index if table.loc[n, "kind"] == "per_symbol"]
    model_fits = [n for n in names if "refit_every" in get(n).params]
    vectorized = [n for n in names if n not in model_fits]
    columns = tuple(sorted({c for n in names for c in get(n).inputs}))

    # A metric whose default window is longer than the series (tick-level
    # metrics with windows of tens of thousands of rows) is listed, not run.
    results: dict[tuple[str, int], float | None] = {}
    for n in sizes:
        bars = synthetic_bars(n, columns)
        # 1M-bar runs of the slow metrics take seconds each: fewer, and no warm-up call.
        runs, warm_up = (repeat, True) if n == SYMBOL_YEAR else (max(1, repeat // 3), False)
        for name in vectorized:
            if get(name).warmup_bars() >= n:
                results[(name, n)] = None
                continue
            results[(name, n)] = median_ms(lambda b=bars, m=name: compute(m, b), runs, warm_up=warm_up)
        if n == SYMBOL_YEAR:
            for name in model_fits:
                if get(name).warmup_bars() >= n:
                    results[(name, n)] = None
                    continue
                with no_gc():
                    results[(name, n)] = timed(lambda b=bars, m=name: compute(m, b))

    print(f"Every per-symbol metric, default parameters: median of {repeat} runs (1M: {max(1, repeat // 3)})")
    header = f"{'metric':<30}{'module':<15}" + "".join(
        f"{('1y (8,760)' if n == SYMBOL_YEAR else '1M bars') + ' ms':>16}" for n in sizes
    )
    print(header)
    print("-" * len(header))
    for name in vectorized:
        line = f"{name:<30}{table.loc[name, 'module']:<15}"
        line += "".join(f"{fmt(results[(name, n)]):>16}" for n in sizes)
        print(line + too_long(name, sizes[0], results))
    total = sum(results[(name, SYMBOL_YEAR)] or 0.0 for name in vectorized)
    print("-" * len(header))
    print(f"{'all vectorized metrics, one symbol-year':<45}{fmt(total):>16}")

    print()
    print("Model fits on a refit schedule (defaults), one symbol-year, one run; not run at 1M bars")
    print("-" * 86)
    fit_total = 0.0
    for name in model_fits:
        params = get(name).params
        ours = results[(name, SYMBOL_YEAR)]
        fit_total += ours or 0.0
        schedule = ", ".join(f"{k}={params[k]}" for k in ("window", "refit_every") if k in params)
        line = f"{name:<30}{table.loc[name, 'module']:<15}{fmt(ours):>12} ms   {schedule}"
        print(line + too_long(name, SYMBOL_YEAR, results))
    print("-" * 86)
    print(f"{'whole per-symbol catalog, one symbol-year':<57}{fmt(total + fit_total):>12} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9, help="runs per timing (the median is kept)")
    parser.add_argument("--skip-1m", action="store_true", help="only time the symbol-year")
    parser.add_argument(
        "--classical-only", action="store_true", help="only the classical indicators vs TA-Lib"
    )
    args = parser.parse_args()
    sizes = [SYMBOL_YEAR] if args.skip_1m else [SYMBOL_YEAR, ONE_MILLION]

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"TA-Lib {talib.__ta_version__.decode().split()[0]}, {os.cpu_count()} cores, load average {load}")
    print()
    within = classical_table(args.repeat, sizes)
    if not args.classical_only:
        print()
        catalog_table(args.repeat, sizes)
    if not args.skip_1m:
        verdict = "within" if within else "NOT within"
        print(f"\nClassical indicators on 1M bars: {verdict} {BUDGET:.0f}x TA-Lib's time.")


if __name__ == "__main__":
    main()
