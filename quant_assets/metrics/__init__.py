"""Metric library: pure, validated, causal metric functions and their catalog.

Usage::

    from quant_assets.metrics import compute, catalog

    rsi = compute("rsi", bars, timeperiod=14)      # Series named "rsi"
    macd = compute("macd", bars)                   # DataFrame: macd, macd_signal, macd_hist
    catalog()                                      # one row per metric

Per-symbol metrics take a DataFrame with a naive-UTC ``DatetimeIndex`` and the
columns they declare (``open, high, low, close, volume``, ...); the result is
aligned to that index. Every family module of this package (each module not
starting with ``_``) is imported here, so the catalog is complete, and the
dependency graph is checked once all are loaded: a missing dependency or a
cycle fails the import. Heavy model libraries (arch, statsmodels) are imported
inside the functions that fit models, so importing this package stays fast.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import pandas as pd

from quant_assets.metrics.registry import (
    MODULE_IDS,
    REGISTRY,
    Metric,
    MetricDefinitionError,
    MetricInputError,
    Registry,
    metric,
)

__all__ = [
    "MODULE_IDS",
    "REGISTRY",
    "Metric",
    "MetricDefinitionError",
    "MetricInputError",
    "Registry",
    "catalog",
    "compute",
    "get",
    "metric",
    "topological_order",
]


def compute(name: str, data: pd.DataFrame, **params: Any) -> pd.Series | pd.DataFrame:
    """Compute metric ``name`` on ``data`` with ``params`` (defaults for the rest).

    Returns a Series named after the output for single-output metrics, else a
    DataFrame with the declared output columns, indexed like ``data``.
    Raises :class:`MetricInputError` when the data or parameters are invalid and
    ``KeyError`` for an unknown metric name.
    """
    return REGISTRY.compute(name, data, **params)


def catalog() -> pd.DataFrame:
    """One row per metric (dependencies first): name, module, kind, inputs,
    params (defaults), depends_on, outputs, value_range, warmup_bars,
    memory_bars, reference and summary."""
    return REGISTRY.catalog()


def topological_order() -> list[str]:
    """All metric names, each after the metrics it depends on."""
    return REGISTRY.topological_order()


def get(name: str) -> Metric:
    """The registered :class:`Metric` called ``name``."""
    return REGISTRY.get(name)


def _import_families() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if not info.name.startswith("_") and info.name != "registry":
            importlib.import_module(f"{__name__}.{info.name}")


_import_families()
REGISTRY.resolve()
