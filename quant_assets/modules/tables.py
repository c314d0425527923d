"""pandera schemas of the score tables (DuckDB schema ``scores``) and the generic row builder.

Every table is validated before it is stored. Columns are ordered (inserts are
positional); ``ts`` is naive UTC: the bar open time for per-symbol tables (the value
uses data up to the bar's close), the UTC day for daily tables (the value as of that
day's last bar). ``score`` is NULL during warm-up, with ``explain`` NULL as well.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.engines.pandas_engine import DateTime
from pandera.typing.pandas import Series

from quant_assets.modules.declaration import ModuleDeclaration
from quant_assets.modules.engine import ModuleOutput

UtcTimestamp = DateTime(unit="us")
#: The one subject of the cross-symbol modules, whose metrics read the whole returns panel.
PANEL = "panel"
SIGNALS = ["bullish", "neutral", "bearish", "high", "normal", "low", "anomalous", "elevated", "calm",
           "buy_pressure", "balanced", "sell_pressure", "risk_on", "risk_off", "trend", "range"]


class _Table(pa.DataFrameModel):
    ts: Series[UtcTimestamp] = pa.Field(description="Naive UTC time the value refers to")

    class Config:
        strict = True
        ordered = True
        coerce = False


class UnitScore(_Table):
    """A per-symbol score in [0, 1] with its signal and explanation."""

    symbol: Series[str] = pa.Field(str_matches=r"^[A-Z0-9]+$")
    score: Series[float] = pa.Field(ge=0.0, le=1.0, nullable=True, description="Composite score, 0..1")
    signal: Series[str] = pa.Field(isin=SIGNALS, nullable=True, description="Label from the thresholds")
    explain: Series[str] = pa.Field(nullable=True, description="JSON: raw, normalized, weight, contribution")
    module_version: Series[str] = pa.Field(str_matches=r"^\d+\.\d+\.\d+$")


class SignedScore(UnitScore):
    """A per-symbol score in [−1, 1]."""

    score: Series[float] = pa.Field(ge=-1.0, le=1.0, nullable=True, description="Composite score, -1..1")


class RegimeTable(_Table):
    """Trend/range label per symbol and bar with the probability of trend."""

    symbol: Series[str] = pa.Field(str_matches=r"^[A-Z0-9]+$")
    label: Series[str] = pa.Field(isin=["trend", "range"], nullable=True)
    prob_trend: Series[float] = pa.Field(ge=0.0, le=1.0, nullable=True)
    explain: Series[str] = pa.Field(nullable=True)
    module_version: Series[str] = pa.Field(str_matches=r"^\d+\.\d+\.\d+$")


class MacroTable(_Table):
    """Macro score per UTC day and on-chain asset."""

    asset: Series[str] = pa.Field(str_matches=r"^[A-Z0-9]+$")
    score: Series[float] = pa.Field(ge=0.0, le=1.0, nullable=True)
    signal: Series[str] = pa.Field(isin=SIGNALS, nullable=True)
    explain: Series[str] = pa.Field(nullable=True)
    module_version: Series[str] = pa.Field(str_matches=r"^\d+\.\d+\.\d+$")


def per_symbol_rows(declaration: ModuleDeclaration, symbol: str, output: ModuleOutput,
                    start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Score-table rows of one symbol for bars in ``[start, end)`` (UnitScore/SignedScore shape)."""
    composite = output.composite
    if composite is None:
        raise ValueError(f"{declaration.id} declares no components; it has no per-symbol score")
    index = composite.score.index
    keep = (index >= start) & (index < end)
    explain = np.asarray(output.explain, dtype=object)[keep]
    signal = output.signal[keep].to_numpy(dtype=object) if output.signal is not None else None
    rows = pd.DataFrame({
        "ts": index[keep].astype("datetime64[us]"),
        "symbol": symbol,
        "score": composite.score[keep].to_numpy(dtype=float),
        "signal": signal if signal is not None else None,
        "explain": explain,
        "module_version": declaration.version,
    })
    return rows


def symbol_rows(declaration: ModuleDeclaration, outputs: dict[str, ModuleOutput], start: pd.Timestamp,
                end: pd.Timestamp) -> pd.DataFrame:
    """Rows of every symbol, symbol by symbol (the generic ``rows`` of a per-symbol module)."""
    return pd.concat([per_symbol_rows(declaration, symbol, output, start, end)
                      for symbol, output in sorted(outputs.items())], ignore_index=True)


def panel_output(declaration: ModuleDeclaration, outputs: Mapping[str, ModuleOutput]) -> ModuleOutput:
    """The single output of a cross-symbol module (computed on the whole returns panel)."""
    if set(outputs) != {PANEL}:
        raise ValueError(f"{declaration.id}: expected one output named {PANEL!r} (got {sorted(outputs)})")
    return outputs[PANEL]


def day_ends(index: pd.DatetimeIndex, start: pd.Timestamp, end: pd.Timestamp
             ) -> tuple[np.ndarray, pd.DatetimeIndex]:
    """Positions in ``index`` of each UTC day's last bar within ``[start, end)``, and those days.

    A daily table reports the value as of the day's close: the last bar of the day.
    """
    positions = np.flatnonzero((index >= start) & (index < end))
    days = index[positions].floor("D")
    last = np.append(days[1:] != days[:-1], True) if len(days) else np.zeros(0, dtype=bool)
    return positions[last], days[last]
