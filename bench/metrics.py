"""Time every catalog metric on one symbol-year (8,760 hourly bars) and on 1,000,000 bars.

Run with ``python bench/metrics.py`` (options: ``--repeat N``, ``--skip-1m``).

Each time is the best of ``--repeat`` runs of ``quant_assets.metrics.compute``
with default parameters, input validation included. Classical indicators are
timed side by side with the TA-Lib call(s) that produce the same columns, on
the same numpy arrays. Metrics that fit a model on a refit schedule (GARCH,
Markov switching, ...) are listed apart: their cost is one fit per refit
period, so they are timed on the symbol-year only.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from quant_assets.metrics import catalog, compute, get

try:
    import talib
except ImportError:  # TA-Lib is a dev dependency; the bench still times our side.
    talib = None

SYMBOL_YEAR = 8_760
ONE_MILLION = 1_000_000


def synthetic_bars(n: int, seed: int = 0) -> pd.DataFrame:
    """Hourly OHLCV bars whose returns follow a GARCH(1,1), as crypto returns cluster.

    Hourly volatility is about 0.45 % (ω = 0.002, α = 0.08, β = 0.90, in percent²),
    so the model-fitting metrics see the structure they are built for.
    """
    from arch.univariate import GARCH, Normal, ZeroMean

    rng = np.random.default_rng(seed)
    process = ZeroMean(volatility=GARCH(), distribution=Normal(seed=rng))
    returns = process.simulate([0.002, 0.08, 0.90], n, burn=1000).data.to_numpy() / 100.0
    close = 50_000.0 * np.exp(np.cumsum(returns))
    open_ = np.r_[50_000.0, close[:-1]]
    wick = np.abs(rng.normal(0.0, 0.002, (2, n)))
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * (1.0 + wick[0]),
            "low": np.minimum(open_, close) * (1.0 - wick[1]),
            "close": close,
            "volume": rng.lognormal(3.0, 0.5, n),
        },
        index=pd.date_range("2020-01-01", periods=n, freq="h"),
    )


def talib_equivalents(bars: pd.DataFrame) -> dict[str, Callable[[], Any]]:
    """TA-Lib calls producing the same columns as our classical indicators."""
    if talib is None:
        return {}
    c, h, lo = (bars[k].to_numpy() for k in ("close", "high", "low"))
    return {
        "sma": lambda: talib.SMA(c, 30),
        "ema": lambda: talib.EMA(c, 30),
        "rsi": lambda: talib.RSI(c, 14),
        "macd": lambda: talib.MACD(c, 12, 26, 9),
        "bbands": lambda: talib.BBANDS(c, 20, 2, 2, 0),
        "bb_width": lambda: talib.BBANDS(c, 20, 2, 2, 0),
        "atr": lambda: talib.ATR(h, lo, c, 14),
        "adx": lambda: (
            talib.ADX(h, lo, c, 14),
            talib.PLUS_DI(h, lo, c, 14),
            talib.MINUS_DI(h, lo, c, 14),
        ),
        "stoch_rsi": lambda: talib.SMA(talib.STOCHRSI(c, 14, 14, 3, 0)[1], 3),
        "momentum": lambda: (talib.MOM(c, 10), talib.ROC(c, 10)),
    }


def best_ms(func: Callable[..., Any], repeat: int, *args: Any) -> float:
    """Best wall time of ``func(*args)`` over ``repeat`` runs, in milliseconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        func(*args)
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def fmt(ms: float | None) -> str:
    if ms is None:
        return "-"
    return f"{ms:,.2f}" if ms < 100 else f"{ms:,.0f}"


def ratio(ours: float | None, ref: float | None) -> str:
    return "-" if ours is None or ref is None else f"{ours / ref:.1f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per timing (best is kept)")
    parser.add_argument("--skip-1m", action="store_true", help="only time the symbol-year")
    args = parser.parse_args()

    table = catalog()
    names = [n for n in table.index if table.loc[n, "kind"] == "per_symbol"]
    model_fits = [n for n in names if "refit_every" in get(n).params]
    vectorized = [n for n in names if n not in model_fits]
    sizes = [SYMBOL_YEAR] if args.skip_1m else [SYMBOL_YEAR, ONE_MILLION]

    results: dict[tuple[str, int], tuple[float, float | None]] = {}
    for n in sizes:
        bars = synthetic_bars(n)
        reference = talib_equivalents(bars)
        repeat = args.repeat if n == SYMBOL_YEAR else max(1, args.repeat // 2)
        for name in vectorized:
            ours = best_ms(compute, repeat, name, bars)
            ref = best_ms(reference[name], repeat) if name in reference else None
            results[(name, n)] = (ours, ref)
        if n == SYMBOL_YEAR:
            for name in model_fits:
                results[(name, n)] = (best_ms(compute, 1, name, bars), None)

    header = f"{'metric':<24}{'module':<14}"
    for n in sizes:
        label = "1y (8,760)" if n == SYMBOL_YEAR else "1M bars"
        header += f"{label + ' ours ms':>22}{'TA-Lib ms':>12}{'ratio':>8}"
    print(header)
    print("-" * len(header))
    for name in vectorized:
        line = f"{name:<24}{table.loc[name, 'module']:<14}"
        for n in sizes:
            ours, ref = results[(name, n)]
            line += f"{fmt(ours):>22}{fmt(ref):>12}{ratio(ours, ref):>8}"
        print(line)
    total = sum(results[(name, SYMBOL_YEAR)][0] for name in vectorized)
    print("-" * len(header))
    print(f"{'all vectorized metrics, one symbol-year':<38}{fmt(total):>22} ms")

    print()
    print("Model fits on a refit schedule (defaults), one symbol-year; not run at 1M bars")
    print("-" * 78)
    fit_total = 0.0
    for name in model_fits:
        params = get(name).params
        ours, _ = results[(name, SYMBOL_YEAR)]
        fit_total += ours
        schedule = f"window={params['window']}, refit_every={params['refit_every']}"
        print(f"{name:<24}{table.loc[name, 'module']:<14}{fmt(ours):>12} ms   {schedule}")
    print("-" * 78)
    print(f"{'whole per-symbol catalog, one symbol-year':<50}{fmt(total + fit_total):>12} ms")
    if talib is None:
        print("\nTA-Lib is not installed: reference columns are empty (pip install TA-Lib).")


if __name__ == "__main__":
    main()
