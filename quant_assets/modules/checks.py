"""Checks on score tables (pure): range/schema, NaN share, stale inputs, distribution drift."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors
from scipy.stats import ks_2samp

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
    ("distribution_drift", "WARN when the range's values differ from the trailing month's "
     f"(two-sample Kolmogorov–Smirnov D > {DRIFT_STATISTIC} and p < {DRIFT_PVALUE}).", False),
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


def drift_check(current: pd.Series, trailing: pd.Series) -> ScoreCheck:
    a = current.dropna().to_numpy(dtype=float)
    b = trailing.dropna().to_numpy(dtype=float)
    if len(a) < MIN_DRIFT_SAMPLES or len(b) < MIN_DRIFT_SAMPLES:
        return ScoreCheck("distribution_drift", True,
                          f"too few values to compare ({len(a)} in range, {len(b)} trailing)", "WARN")
    result = ks_2samp(a, b)
    statistic, pvalue = float(result.statistic), float(result.pvalue)
    drifted = statistic > DRIFT_STATISTIC and pvalue < DRIFT_PVALUE
    return ScoreCheck(
        "distribution_drift", not drifted,
        f"KS D={statistic:.3f}, p={pvalue:.2g}: range mean {np.mean(a):.3f} vs trailing {np.mean(b):.3f}",
        "WARN", {"ks_statistic": statistic, "ks_pvalue": pvalue})
