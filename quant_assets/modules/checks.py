"""Checks on score tables (pure): range/schema, NaN share, stale inputs, distribution drift."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors
from scipy.stats import ks_2samp, kstwobign

MAX_NAN_SHARE = 0.05
DRIFT_STATISTIC = 0.5
DRIFT_PVALUE = 1e-3
MIN_DRIFT_SAMPLES = 24


@dataclass(frozen=True)
class ScoreCheck:
    name: str
    passed: bool
    description: str
    severity: Literal["ERROR", "WARN"] = "ERROR"
    metadata: Mapping[str, float | int | str] | None = None


CHECKS: tuple[tuple[str, str, bool], ...] = (
    ("schema_and_ranges", "Every row passes the table's pandera schema: value ranges (0–1, −1…1, "
     "weights in [0, 1] summing to 1), labels, types.", True),
    ("inputs_fresh", "Every raw input reaches the end of the materialized range for every "
     "subject (no stale or missing raw partition behind a score).", True),
    ("nan_share", f"At most {MAX_NAN_SHARE:.0%} of values are missing once the module is warm.", False),
    ("distribution_drift", "WARN when the last week's values differ from the month before it "
     f"(two-sample Kolmogorov–Smirnov D > {DRIFT_STATISTIC} and p < {DRIFT_PVALUE} at the samples' "
     "autocorrelation-adjusted effective sizes).", False),
)


def schema_check(rows: pd.DataFrame, schema: type[pa.DataFrameModel], table: str) -> ScoreCheck:
    try:
        schema.validate(rows, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases.head(3)
        detail = "; ".join(f"{c['column']}: {c['check']} (e.g. {c['failure_case']!r})"
                           for _, c in cases.iterrows())
        return ScoreCheck("schema_and_ranges", False,
                          f"scores.{table}: {len(exc.failure_cases)} failure(s): {detail}")
    return ScoreCheck("schema_and_ranges", True, f"scores.{table}: {len(rows)} rows valid")


def inputs_fresh_check(latest: Mapping[tuple[str, str], pd.Timestamp | None],
                       required: Mapping[str, pd.Timestamp]) -> ScoreCheck:
    """``latest[(family, subject)]`` is the newest raw ts loaded; ``required[family]`` the
    newest ts that must be present for the range to be complete."""
    stale = []
    for (family, subject), newest in sorted(latest.items()):
        need = required[family]
        if newest is None or newest < need:
            stale.append(f"raw.{family} for {subject or 'all'} ends at {newest} (needs {need})")
    if stale:
        return ScoreCheck("inputs_fresh", False,
                          f"{len(stale)} stale input(s): " + "; ".join(stale[:5]))
    return ScoreCheck("inputs_fresh", True, f"{len(latest)} raw inputs reach the range end")


def nan_share_check(values: pd.Series, warm: pd.Series) -> ScoreCheck:
    """Share of NaN among rows past the warm-up (``warm`` True)."""
    considered = values[warm.to_numpy(dtype=bool)]
    if considered.empty:
        return ScoreCheck("nan_share", True, "the range is still inside the warm-up; no value expected",
                          metadata={"warm_rows": 0})
    share = float(considered.isna().mean())
    passed = share <= MAX_NAN_SHARE
    return ScoreCheck("nan_share", passed, f"{share:.1%} missing over {len(considered)} warm rows",
                      metadata={"nan_share": share, "warm_rows": len(considered)})


def effective_size(values: np.ndarray) -> float:
    """Independent observations an autocorrelated series is worth:
    ``n (1 - ρ1) / (1 + ρ1)`` with ``ρ1`` its lag-1 autocorrelation, clipped to 0..0.99
    (the AR(1) variance-inflation factor; Bayley & Hammersley 1946). Hourly scores are
    smooth (ρ1 near 0.95), so a day of them is worth about one observation, not 24."""
    n = len(values)
    if n < 3 or np.ptp(values[:-1]) == 0.0 or np.ptp(values[1:]) == 0.0:
        return float(n)
    rho = float(np.clip(np.corrcoef(values[:-1], values[1:])[0, 1], 0.0, 0.99))
    return n * (1.0 - rho) / (1.0 + rho)


def drift_check(current: pd.Series, trailing: pd.Series) -> ScoreCheck:
    """Two-sample Kolmogorov–Smirnov test of ``current`` against ``trailing`` (each in time
    order), with the asymptotic p-value taken at the samples' effective sizes: a score that
    follows the market moves its distribution from week to week, and only a shift that
    autocorrelation cannot explain (a pinned or re-scaled score) is drift."""
    a = current.dropna().to_numpy(dtype=float)
    b = trailing.dropna().to_numpy(dtype=float)
    if len(a) < MIN_DRIFT_SAMPLES or len(b) < MIN_DRIFT_SAMPLES:
        return ScoreCheck("distribution_drift", True,
                          f"too few values to compare ({len(a)} recent, {len(b)} trailing)", "WARN")
    statistic = float(ks_2samp(a, b).statistic)
    size_a, size_b = effective_size(a), effective_size(b)
    pvalue = float(kstwobign.sf(statistic * np.sqrt(size_a * size_b / (size_a + size_b))))
    drifted = statistic > DRIFT_STATISTIC and pvalue < DRIFT_PVALUE
    return ScoreCheck(
        "distribution_drift", not drifted,
        f"KS D={statistic:.3f}, p={pvalue:.2g} at effective sizes {size_a:.0f} and {size_b:.0f}: recent mean "
        f"{np.mean(a):.3f} vs trailing {np.mean(b):.3f}",
        "WARN", {"ks_statistic": statistic, "ks_pvalue": pvalue, "effective_recent": size_a,
                 "effective_trailing": size_b})
