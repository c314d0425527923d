"""Checks of column values shared by the metric families.

The registry has already checked that every input column is present, numeric
and finite; these checks add the sign a column must have. Each raises
:class:`MetricInputError` naming the metric, the column and the first bad row.
Two message styles exist, one per helper pair (tests and callers match on
them): ``require_*`` return the checked column and say what it must be,
``check_*`` validate several columns and count the bad values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

from quant_assets.metrics import _numeric as nm
from quant_assets.metrics.registry import MetricInputError

#: Elementwise test of a column's values (True where the test holds).
Bound = Callable[[np.ndarray], np.ndarray]


def _require(metric_name: str, data: pd.DataFrame, column: str, bound: str, valid: Bound) -> np.ndarray:
    values = nm.column(data, column)
    bad = np.flatnonzero(~valid(values))
    if bad.size:
        first = int(bad[0])
        raise MetricInputError(
            metric_name,
            f"column {column!r}",
            f"must be {bound} (got {float(values[first])!r} at {data.index[first]}, "
            f"the first of {bad.size} such rows)",
        )
    return values


def require_positive(metric_name: str, data: pd.DataFrame, column: str) -> np.ndarray:
    """Column ``column`` as floats, raising :class:`MetricInputError` unless every value is > 0."""
    return _require(metric_name, data, column, "> 0", lambda v: v > 0.0)


def require_non_negative(metric_name: str, data: pd.DataFrame, column: str) -> np.ndarray:
    """Column ``column`` as floats, raising :class:`MetricInputError` unless every value is >= 0."""
    return _require(metric_name, data, column, ">= 0", lambda v: v >= 0.0)


def require_bar_range(metric_name: str, data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``(high, low)`` as floats, raising :class:`MetricInputError` unless ``low > 0`` and
    ``high >= low`` on every bar (a log range ``ln(H/L)`` needs both)."""
    low = require_positive(metric_name, data, "low")
    high = nm.column(data, "high")
    if (high < low).any():
        first = int(np.flatnonzero(high < low)[0])
        raise MetricInputError(
            metric_name,
            "column 'high'",
            f"must be >= 'low' (high {high[first]!r} < low {low[first]!r} at {data.index[first]})",
        )
    return high, low


def _check(metric: str, data: pd.DataFrame, columns: Iterable[str], invalid: Bound, what: str) -> None:
    for column in columns:
        bad = invalid(nm.column(data, column))
        if bad.any():
            first = data.index[int(np.flatnonzero(bad)[0])]
            raise MetricInputError(metric, f"column {column!r}", what.format(int(bad.sum()), first))


def check_nonnegative(metric: str, data: pd.DataFrame, columns: Iterable[str]) -> None:
    """Raise :class:`MetricInputError` if a quantity column has a negative value."""
    _check(metric, data, columns, lambda v: v < 0.0, "has {} negative values (first at {})")


def check_positive(metric: str, data: pd.DataFrame, columns: Iterable[str]) -> None:
    """Raise :class:`MetricInputError` if a price-like column has a value <= 0."""
    _check(
        metric, data, columns, lambda v: v <= 0.0, "has {} values <= 0 (first at {}); prices must be positive"
    )
