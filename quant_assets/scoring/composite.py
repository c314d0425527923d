"""Weighted composite of normalized components, with an explanation that adds up.

A module's score is an affine function of its normalized components
``n_i`` (each in ``[0, 1]``, oriented so that higher is more bullish)::

    unclipped_t = Σ_i c_i · n_{i,t} + offset,    score_t = clip(unclipped_t, lo, hi)

Without a formula ``c_i`` is the component's weight and the offset 0: the
weighted sum (a weighted mean when the weights sum to 1, as the reference
recommends with weights ∝ max(ICIR, 0)). A formula (:mod:`.formula`) over the
component names and :data:`WEIGHTED` rescales or shifts it, e.g.
``2 * weighted - 1`` maps a ``[0, 1]`` mean to ``[-1, 1]``. Because the score is
affine, each bar's explanation lists the contribution ``c_i · n_{i,t}`` of every
component, and the contributions plus the offset sum to the unclipped score.

References
----------
METRICS_REFERENCE.md, section "Scoring" (composite as a weighted mean of
oriented sub-scores). R. C. Grinold, R. N. Kahn, *Active Portfolio
Management*, 2nd ed., McGraw-Hill, 2000, ch. 6 (combining signals).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from quant_assets.scoring.formula import NAME_PATTERN, AffineForm

__all__ = [
    "WEIGHTED",
    "ComponentSpec",
    "Composite",
    "CompositeError",
    "combine",
    "effective_coefficients",
    "explain_records",
    "label",
]

#: Formula name of the weighted sum of the components, ``Σ weight_i · n_i``.
WEIGHTED = "weighted"


class CompositeError(ValueError):
    """Invalid components, frames or thresholds of a composite; the message names them and says why."""


@dataclass(frozen=True)
class ComponentSpec:
    """One component of a composite score.

    Attributes
    ----------
    name : str
        Component name, used in explanations and formulas: ``[a-z_][a-z0-9_]*``
        and not ``"weighted"``.
    metric : str
        Name of the metric in the catalog (reported in explanations).
    output : str
        The metric's output column (reported in explanations).
    weight : float
        Weight of the component in :data:`WEIGHTED`; finite.
    """

    name: str
    metric: str
    output: str
    weight: float

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or NAME_PATTERN.fullmatch(self.name) is None:
            raise CompositeError(f"component name must match [a-z_][a-z0-9_]* (got {self.name!r})")
        if self.name == WEIGHTED:
            raise CompositeError(f"component name {WEIGHTED!r} is reserved for the weighted sum")
        for attribute in ("metric", "output"):
            value = getattr(self, attribute)
            if not isinstance(value, str) or not value:
                raise CompositeError(f"component {self.name!r}: {attribute} must be a non-empty string")
        try:
            weight = float(self.weight)
        except (TypeError, ValueError):
            raise CompositeError(
                f"component {self.name!r}: weight must be a number (got {self.weight!r})"
            ) from None
        if not math.isfinite(weight):
            raise CompositeError(f"component {self.name!r}: weight must be finite (got {self.weight!r})")
        object.__setattr__(self, "weight", weight)


@dataclass(frozen=True)
class Composite:
    """A composite score and its parts, all indexed like the inputs.

    Attributes
    ----------
    score : Series
        ``unclipped`` clipped to the score range; NaN where a component is missing.
    unclipped : Series
        ``Σ contributions + offset``; NaN likewise.
    clipped : Series
        Bool, True where the clip changed the value (False where there is no score).
    contributions : DataFrame
        One column per component, ``coefficient · normalized``.
    coefficients : Mapping[str, float]
        Effective coefficient of each component (see :func:`effective_coefficients`).
    offset : float
        Constant term.
    """

    score: pd.Series
    unclipped: pd.Series
    clipped: pd.Series
    contributions: pd.DataFrame
    coefficients: Mapping[str, float]
    offset: float


def _check_components(components: Sequence[ComponentSpec]) -> list[str]:
    """Validate ``components`` (non-empty ComponentSpecs, unique names); return the names."""
    if isinstance(components, ComponentSpec) or not isinstance(components, Sequence) or not components:
        raise CompositeError("components must be a non-empty sequence of ComponentSpec")
    for spec in components:
        if not isinstance(spec, ComponentSpec):
            raise CompositeError(f"components must be ComponentSpec instances (got {type(spec).__name__})")
    names = [spec.name for spec in components]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise CompositeError(f"components: duplicate names {duplicates}")
    return names


def effective_coefficients(
    components: Sequence[ComponentSpec], form: AffineForm | None
) -> tuple[dict[str, float], float]:
    """Coefficient of each component and the offset of the composite.

    Parameters
    ----------
    components : Sequence[ComponentSpec]
        The components, with unique names.
    form : AffineForm or None
        A formula over the component names and :data:`WEIGHTED`, or None for the
        plain weighted sum.

    Returns
    -------
    (dict, float)
        ``{name_i: c_i}`` in component order, and the offset, where
        ``c_i = form[name_i] + form[weighted] · weight_i`` and ``offset = form.constant``
        (a missing name has coefficient 0). Without a formula ``c_i = weight_i`` and
        the offset is 0.

    Raises
    ------
    CompositeError
        Invalid components, or a formula naming something that is neither a
        component nor :data:`WEIGHTED`.
    """
    names = _check_components(components)
    if form is None:
        return {spec.name: spec.weight for spec in components}, 0.0
    unknown = [name for name in form.coefficients if name not in names and name != WEIGHTED]
    if unknown:
        raise CompositeError(
            f"form: names {unknown} are neither components ({', '.join(names)}) nor {WEIGHTED!r}"
        )
    scale = form.coefficients.get(WEIGHTED, 0.0)
    coefficients = {
        spec.name: form.coefficients.get(spec.name, 0.0) + scale * spec.weight for spec in components
    }
    return coefficients, form.constant


def _component_values(frame: pd.DataFrame, argument: str, names: list[str]) -> np.ndarray:
    """The component columns of ``frame`` as a float64 ``(rows, components)`` array."""
    if not isinstance(frame, pd.DataFrame):
        raise CompositeError(f"{argument} must be a DataFrame (got {type(frame).__name__})")
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise CompositeError(f"{argument} lacks component columns {missing}")
    repeated = sorted({name for name in names if (frame.columns == name).sum() > 1})
    if repeated:
        raise CompositeError(f"{argument} has more than one column named {repeated}")
    try:
        return frame[names].to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        raise CompositeError(f"{argument}: component columns must be numeric") from None


def _check_aligned(raw: pd.DataFrame, normalized: pd.DataFrame) -> None:
    if not raw.index.equals(normalized.index):
        raise CompositeError("raw and normalized must have the same index")


def combine(
    raw: pd.DataFrame,
    normalized: pd.DataFrame,
    components: Sequence[ComponentSpec],
    *,
    form: AffineForm | None = None,
    score_range: tuple[float, float] = (0.0, 1.0),
) -> Composite:
    """Combine normalized components into a score clipped to ``score_range``.

    Parameters
    ----------
    raw : DataFrame
        Raw metric values, one column per component name.
    normalized : DataFrame
        Normalized values, one column per component name, same index as ``raw``.
    components : Sequence[ComponentSpec]
        The components, with unique names.
    form : AffineForm, optional
        Formula over the component names and :data:`WEIGHTED` (see
        :func:`effective_coefficients`); default: the weighted sum.
    score_range : (float, float), default (0, 1)
        ``(lo, hi)`` with finite ``lo < hi``; the score is clipped to it.

    Returns
    -------
    Composite
        ``unclipped_t = Σ_i c_i · n_{i,t} + offset`` and ``score_t = clip(unclipped_t, lo, hi)``.
        A bar has a score only when every component's raw and normalized value
        is finite there (a raw value that is missing would make the explanation
        lie about it); elsewhere score and unclipped are NaN and clipped False.

    Raises
    ------
    CompositeError
        Invalid components or formula names; a frame that is not a DataFrame, lacks
        a component column or has non-numeric ones; different indexes; an invalid
        ``score_range``.
    """
    coefficients, offset = effective_coefficients(components, form)
    names = list(coefficients)
    raw_values = _component_values(raw, "raw", names)
    normalized_values = _component_values(normalized, "normalized", names)
    _check_aligned(raw, normalized)
    try:
        lo, hi = (float(bound) for bound in score_range)
    except (TypeError, ValueError):
        raise CompositeError(
            f"score_range must be a pair (lo, hi) of numbers (got {score_range!r})"
        ) from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise CompositeError(f"score_range must be finite with lo < hi (got {score_range!r})")

    contributions = normalized_values * np.array([coefficients[name] for name in names])
    scored = np.isfinite(raw_values).all(axis=1) & np.isfinite(normalized_values).all(axis=1)
    unclipped = np.where(scored, contributions.sum(axis=1) + offset, np.nan)
    score = np.clip(unclipped, lo, hi)
    index = normalized.index
    return Composite(
        score=pd.Series(score, index=index, name="score"),
        unclipped=pd.Series(unclipped, index=index, name="unclipped"),
        clipped=pd.Series(scored & (score != unclipped), index=index, name="clipped"),
        contributions=pd.DataFrame(contributions, index=index, columns=names),
        coefficients=coefficients,
        offset=offset,
    )


def explain_records(
    raw: pd.DataFrame,
    normalized: pd.DataFrame,
    composite: Composite,
    components: Sequence[ComponentSpec],
) -> list[str | None]:
    """One JSON explanation per bar: what each component contributed to the score.

    Parameters
    ----------
    raw, normalized : DataFrame
        The frames given to :func:`combine`.
    composite : Composite
        Its result.
    components : Sequence[ComponentSpec]
        The components given to :func:`combine`.

    Returns
    -------
    list of str or None
        For each row, None where the score is NaN, else compact JSON::

            {"components": [{"name", "metric", "output", "raw", "normalized",
                             "weight", "contribution"}, ...],
             "offset": ..., "unclipped": ..., "clipped": true|false}

        with components sorted by ``|contribution|`` descending (ties in component
        order) and ``weight`` the effective coefficient. Floats are written with
        their full ``repr``, so the parsed contributions plus the offset give
        ``unclipped`` to rounding (1e-12).

    Raises
    ------
    CompositeError
        Frames or components that do not match ``composite``.
    """
    names = _check_components(components)
    if list(composite.contributions.columns) != names:
        raise CompositeError(
            f"components {names} do not match the composite's columns {list(composite.contributions.columns)}"
        )
    raw_values = _component_values(raw, "raw", names)
    normalized_values = _component_values(normalized, "normalized", names)
    _check_aligned(raw, normalized)
    if not normalized.index.equals(composite.score.index):
        raise CompositeError("normalized and composite must have the same index")

    rows = np.flatnonzero(np.isfinite(composite.score.to_numpy(dtype=np.float64)))
    contributions = composite.contributions.to_numpy(dtype=np.float64)[rows]
    if not (np.isfinite(raw_values[rows]).all() and np.isfinite(normalized_values[rows]).all()):
        raise CompositeError("raw and normalized must be finite wherever the composite has a score")

    # One JSON object per (row, component), built column by column with the fixed text
    # JSON-escaped once; then each row's objects are put in contribution order at once.
    cells = np.empty((len(rows), len(names)), dtype=object)
    for j, spec in enumerate(components):
        head = (
            f'{{"name":{json.dumps(spec.name)},"metric":{json.dumps(spec.metric)},'
            f'"output":{json.dumps(spec.output)},"raw":'
        )
        weight = repr(float(composite.coefficients[spec.name]))
        cells[:, j] = [
            f'{head}{r!r},"normalized":{n!r},"weight":{weight},"contribution":{c!r}}}'
            for r, n, c in zip(
                raw_values[rows, j].tolist(),
                normalized_values[rows, j].tolist(),
                contributions[:, j].tolist(),
                strict=True,
            )
        ]
    order = np.argsort(-np.abs(contributions), axis=1, kind="stable")
    cells = np.take_along_axis(cells, order, axis=1)
    tail = f',"offset":{float(composite.offset)!r},"unclipped":'
    unclipped = composite.unclipped.to_numpy(dtype=np.float64)[rows].tolist()
    clipped = composite.clipped.to_numpy(dtype=bool)[rows].tolist()

    records: list[str | None] = [None] * len(composite.score)
    for row, parts, value, was_clipped in zip(rows.tolist(), cells.tolist(), unclipped, clipped, strict=True):
        flag = "true" if was_clipped else "false"
        records[row] = f'{{"components":[{",".join(parts)}]{tail}{value!r},"clipped":{flag}}}'
    return records


def label(score: pd.Series, *, upper: float, lower: float, labels: tuple[str, str, str]) -> pd.Series:
    """Name the regime of each score: ``labels = (upper, middle, lower)``.

    Parameters
    ----------
    score : Series
        The scores.
    upper, lower : float
        Thresholds, ``lower < upper``; both are inclusive.
    labels : (str, str, str)
        Label at or above ``upper``, between the thresholds, and at or below
        ``lower``, e.g. ``("bullish", "neutral", "bearish")``.

    Returns
    -------
    Series
        Object Series indexed like ``score``: ``labels[0]`` where ``score >= upper``,
        ``labels[2]`` where ``score <= lower``, ``labels[1]`` otherwise, None where
        the score is NaN.

    Raises
    ------
    CompositeError
        Thresholds not finite or not ``lower < upper``; ``labels`` not three
        strings; ``score`` not a numeric Series.
    """
    if not isinstance(score, pd.Series):
        raise CompositeError(f"score must be a pandas Series (got {type(score).__name__})")
    try:
        upper, lower = float(upper), float(lower)
    except (TypeError, ValueError):
        raise CompositeError(f"upper and lower must be numbers (got {upper!r}, {lower!r})") from None
    if not (math.isfinite(upper) and math.isfinite(lower) and lower < upper):
        raise CompositeError(
            f"thresholds must be finite with lower < upper (got lower={lower}, upper={upper})"
        )
    if not (
        isinstance(labels, tuple | list) and len(labels) == 3 and all(isinstance(t, str) for t in labels)
    ):
        raise CompositeError(f"labels must be three strings (upper, middle, lower) (got {labels!r})")
    try:
        values = score.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        raise CompositeError(f"score must be numeric (got dtype {score.dtype})") from None
    result = np.full(len(values), None, dtype=object)
    result[values < upper] = labels[1]
    result[values >= upper] = labels[0]
    result[values <= lower] = labels[2]
    return pd.Series(result, index=score.index, name=score.name, dtype=object)
