"""Scoring: from metric values to explained composite scores (numpy/pandas only).

Usage::

    from quant_assets.scoring import ComponentSpec, combine, explain_records, label, normalize, parse_affine

    n = normalize(rsi / 100, "minmax", 0, bounds=(0.0, 1.0))        # causal map to [0, 1]
    form = parse_affine("2 * weighted - 1", {"weighted", "rsi"})    # parsed, never executed
    composite = combine(raw, normalized, components, form=form, score_range=(-1.0, 1.0))
    explanations = explain_records(raw, normalized, composite, components)
    labels = label(composite.score, upper=0.3, lower=-0.3, labels=("bullish", "neutral", "bearish"))

:mod:`.normalize` maps each component to ``[0, 1]`` from trailing data only,
:mod:`.formula` reads an affine score formula safely, and :mod:`.composite`
weights the components into a score whose per-bar explanation adds up.
Nothing here knows of Dagster or DuckDB.
"""

from __future__ import annotations

from quant_assets.scoring.composite import (
    WEIGHTED,
    ComponentSpec,
    Composite,
    CompositeError,
    combine,
    effective_coefficients,
    explain_records,
    label,
)
from quant_assets.scoring.formula import (
    MAX_FORMULA_LENGTH,
    NAME_PATTERN,
    AffineForm,
    FormulaError,
    parse_affine,
)
from quant_assets.scoring.normalize import NORMALIZATIONS, NormalizationError, normalize, warmup

__all__ = [
    "MAX_FORMULA_LENGTH",
    "NAME_PATTERN",
    "NORMALIZATIONS",
    "WEIGHTED",
    "AffineForm",
    "ComponentSpec",
    "Composite",
    "CompositeError",
    "FormulaError",
    "NormalizationError",
    "combine",
    "effective_coefficients",
    "explain_records",
    "label",
    "normalize",
    "parse_affine",
    "warmup",
]
