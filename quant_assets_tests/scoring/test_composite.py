"""Composite scores: coefficients, clipping, missing data, explanations that add up, labels."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from quant_assets.scoring import (
    WEIGHTED,
    ComponentSpec,
    CompositeError,
    combine,
    effective_coefficients,
    explain_records,
    label,
    parse_affine,
)

TWO = (
    ComponentSpec("trend", "adx", "adx", 0.6),
    ComponentSpec("carry", "funding_rate", "funding_rate", 0.4),
)


def formula(text: str, components: tuple[ComponentSpec, ...] = TWO):
    return parse_affine(text, [spec.name for spec in components] + [WEIGHTED])


def frames(rows: list[tuple[float, float]], components: tuple[ComponentSpec, ...] = TWO) -> pd.DataFrame:
    index = pd.date_range("2024-01-01", periods=len(rows), freq="h")
    return pd.DataFrame(rows, index=index, columns=[spec.name for spec in components])


def random_case(n: int, k: int, *, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, tuple[ComponentSpec, ...]]:
    rng = np.random.default_rng(seed)
    components = tuple(
        ComponentSpec(f"c{i}", f"metric_{i}", f"output_{i}", float(w))
        for i, w in enumerate(rng.dirichlet(np.ones(k)))
    )
    names = [spec.name for spec in components]
    index = pd.date_range("2024-01-01", periods=n, freq="h")
    raw = pd.DataFrame(rng.standard_t(3, (n, k)) * 1e4, index=index, columns=names)
    normalized = pd.DataFrame(rng.uniform(size=(n, k)), index=index, columns=names)
    normalized.iloc[rng.integers(0, n, n // 20), rng.integers(0, k, n // 20)] = np.nan
    return raw, normalized, components


# --------------------------------------------------------------------------- coefficients


def test_without_a_formula_the_coefficients_are_the_weights() -> None:
    assert effective_coefficients(TWO, None) == ({"trend": 0.6, "carry": 0.4}, 0.0)


def test_a_formula_scales_the_weighted_sum_into_each_coefficient() -> None:
    coefficients, offset = effective_coefficients(TWO, formula("2 * weighted - 1"))
    assert coefficients == pytest.approx({"trend": 1.2, "carry": 0.8}, rel=1e-15)
    assert offset == -1.0


def test_a_formula_may_add_components_directly() -> None:
    coefficients, offset = effective_coefficients(TWO, formula("weighted + 0.5 * trend + 0.1"))
    assert coefficients == pytest.approx({"trend": 1.1, "carry": 0.4}, rel=1e-15)
    assert offset == 0.1
    assert effective_coefficients(TWO, formula("carry"))[0] == {"trend": 0.0, "carry": 1.0}


def test_a_formula_over_unknown_names_is_rejected() -> None:
    form = parse_affine("other + weighted", ["other", WEIGHTED])
    with pytest.raises(CompositeError, match=r"\['other'\].*trend, carry"):
        effective_coefficients(TWO, form)


@pytest.mark.parametrize("components", [(), TWO[:1] * 2, ["trend"], TWO[0]])
def test_components_must_be_a_non_empty_sequence_of_distinct_specs(components: object) -> None:
    with pytest.raises(CompositeError, match="components"):
        effective_coefficients(components, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"name": "Trend"}, "component name"),
        ({"name": "1x"}, "component name"),
        ({"name": WEIGHTED}, "reserved"),
        ({"metric": ""}, "metric"),
        ({"output": None}, "output"),
        ({"weight": math.nan}, "weight must be finite"),
        ({"weight": "heavy"}, "weight must be a number"),
    ],
)
def test_component_spec_validates_its_fields(kwargs: dict, fragment: str) -> None:
    fields = {"name": "trend", "metric": "adx", "output": "adx", "weight": 1.0} | kwargs
    with pytest.raises(CompositeError, match=fragment):
        ComponentSpec(**fields)


# --------------------------------------------------------------------------- combine


def test_weighted_sum_with_contributions_per_component() -> None:
    normalized = frames([(1.0, 0.5), (0.25, 0.0)])
    composite = combine(normalized * 100, normalized, TWO)
    np.testing.assert_allclose(composite.score.to_numpy(), [0.8, 0.15], rtol=1e-15)
    np.testing.assert_allclose(composite.contributions.to_numpy(), [[0.6, 0.2], [0.15, 0.0]], rtol=1e-15)
    assert list(composite.contributions.columns) == ["trend", "carry"]
    assert not composite.clipped.any()
    assert composite.score.index.equals(normalized.index)


def test_two_times_weighted_minus_one_maps_the_weighted_mean_to_minus_one_to_one() -> None:
    normalized = frames([(1.0, 1.0), (0.0, 0.0), (0.5, 0.5), (1.0, 0.0)])
    composite = combine(
        normalized, normalized, TWO, form=formula("2 * weighted - 1"), score_range=(-1.0, 1.0)
    )
    np.testing.assert_allclose(composite.score.to_numpy(), [1.0, -1.0, 0.0, 0.2], rtol=0, atol=1e-15)
    np.testing.assert_allclose(composite.contributions["trend"].to_numpy(), 2 * 0.6 * normalized["trend"])
    assert composite.offset == -1.0
    assert not composite.clipped.any()


def test_clipping_to_the_score_range_is_recorded() -> None:
    normalized = frames([(1.0, 1.0), (0.0, 0.0), (0.5, 0.5)])
    composite = combine(normalized, normalized, TWO, form=formula("2 * weighted - 0.5"))
    np.testing.assert_allclose(composite.unclipped.to_numpy(), [1.5, -0.5, 0.5], rtol=1e-15)
    np.testing.assert_array_equal(composite.score.to_numpy(), [1.0, 0.0, 0.5])
    np.testing.assert_array_equal(composite.clipped.to_numpy(), [True, True, False])
    assert composite.clipped.dtype == bool


@pytest.mark.parametrize("frame", ["raw", "normalized"])
def test_a_missing_component_leaves_the_bar_without_a_score(frame: str) -> None:
    normalized = frames([(0.2, 0.4), (0.6, 0.8), (0.1, 0.3)])
    raw = normalized * 10
    {"raw": raw, "normalized": normalized}[frame].iloc[1, 1] = np.nan
    composite = combine(raw, normalized, TWO, form=formula("2 * weighted + 5"))  # clipped where present
    assert composite.score.isna().tolist() == [False, True, False]
    assert composite.unclipped.isna().tolist() == [False, True, False]
    assert composite.clipped.tolist() == [True, False, True]


def test_infinite_normalized_values_count_as_missing() -> None:
    normalized = frames([(np.inf, 0.5), (0.5, 0.5)])
    assert combine(normalized.fillna(0), normalized, TWO).score.isna().tolist() == [True, False]


def test_combine_validates_its_frames_and_range() -> None:
    normalized = frames([(0.2, 0.4)])
    with pytest.raises(CompositeError, match=r"normalized lacks component columns \['carry'\]"):
        combine(normalized, normalized[["trend"]], TWO)
    with pytest.raises(CompositeError, match=r"raw has more than one column named \['trend'\]"):
        combine(pd.concat([normalized, normalized[["trend"]]], axis=1), normalized, TWO)
    with pytest.raises(CompositeError, match="same index"):
        combine(normalized.reset_index(drop=True), normalized, TWO)
    with pytest.raises(CompositeError, match="raw must be a DataFrame"):
        combine(normalized.to_numpy(), normalized, TWO)  # type: ignore[arg-type]
    for score_range in [(1.0, 0.0), (0.0, math.inf), (0.0,)]:
        with pytest.raises(CompositeError, match="score_range"):
            combine(normalized, normalized, TWO, score_range=score_range)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- explanations


def test_explanations_add_up_to_the_unclipped_score() -> None:
    raw, normalized, components = random_case(2000, 6, seed=1)
    form = formula("3 * weighted - 0.25 * c2 - 1.1", components)
    composite = combine(raw, normalized, components, form=form, score_range=(-0.5, 0.5))
    records = explain_records(raw, normalized, composite, components)
    assert len(records) == len(raw)
    for t, record in enumerate(records):
        if math.isnan(composite.score.iloc[t]):
            assert record is None
            continue
        parsed = json.loads(record)
        total = math.fsum(item["contribution"] for item in parsed["components"]) + parsed["offset"]
        assert total == pytest.approx(parsed["unclipped"], rel=0, abs=1e-12)
        assert parsed["unclipped"] == composite.unclipped.iloc[t]
        assert parsed["clipped"] is bool(composite.clipped.iloc[t])
    assert composite.clipped.any() and not composite.clipped.all()
    assert composite.score.isna().any()


def test_explanation_lists_every_component_exactly_largest_contribution_first() -> None:
    raw, normalized, components = random_case(300, 5, seed=2)
    composite = combine(raw, normalized, components, form=formula("2 * weighted - 1", components))
    records = explain_records(raw, normalized, composite, components)
    specs = {spec.name: spec for spec in components}
    t = int(np.flatnonzero(composite.score.notna())[0])
    parsed = json.loads(records[t])
    assert list(parsed) == ["components", "offset", "unclipped", "clipped"]
    assert parsed["offset"] == -1.0
    magnitudes = [abs(item["contribution"]) for item in parsed["components"]]
    assert magnitudes == sorted(magnitudes, reverse=True)
    assert sorted(item["name"] for item in parsed["components"]) == sorted(specs)
    for item in parsed["components"]:
        name = item["name"]
        assert list(item) == ["name", "metric", "output", "raw", "normalized", "weight", "contribution"]
        assert (item["metric"], item["output"]) == (specs[name].metric, specs[name].output)
        assert item["raw"] == raw[name].iloc[t]  # full repr: floats round-trip exactly
        assert item["normalized"] == normalized[name].iloc[t]
        assert item["weight"] == composite.coefficients[name] == 2 * specs[name].weight
        assert item["contribution"] == composite.contributions[name].iloc[t]


def test_explanations_are_compact_json() -> None:
    normalized = frames([(1.0, 0.5)])
    (record,) = explain_records(normalized * 2, normalized, combine(normalized * 2, normalized, TWO), TWO)
    assert record == (
        '{"components":['
        '{"name":"trend","metric":"adx","output":"adx","raw":2.0,"normalized":1.0,"weight":0.6,"contribution":0.6},'
        '{"name":"carry","metric":"funding_rate","output":"funding_rate","raw":1.0,"normalized":0.5,'
        '"weight":0.4,"contribution":0.2}],'
        '"offset":0.0,"unclipped":0.8,"clipped":false}'
    )


def test_explain_rejects_components_that_do_not_match_the_composite() -> None:
    normalized = frames([(1.0, 0.5)])
    composite = combine(normalized, normalized, TWO)
    with pytest.raises(CompositeError, match="do not match"):
        explain_records(normalized, normalized, composite, TWO[::-1])
    with pytest.raises(CompositeError, match="finite"):
        explain_records(normalized * np.nan, normalized, composite, TWO)


# --------------------------------------------------------------------------- labels


def test_labels_use_inclusive_thresholds_and_none_for_missing_scores() -> None:
    score = pd.Series([0.7, 0.69, 0.5, 0.3, 0.31, np.nan, 1.0, 0.0], name="score")
    result = label(score, upper=0.7, lower=0.3, labels=("up", "flat", "down"))
    assert result.tolist() == ["up", "flat", "flat", "down", "flat", None, "up", "down"]
    assert result.index.equals(score.index) and result.name == "score"


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"upper": 0.3, "lower": 0.7}, "lower < upper"),
        ({"upper": 0.5, "lower": 0.5}, "lower < upper"),
        ({"upper": math.nan, "lower": 0.5}, "finite"),
        ({"labels": ("up", "down")}, "three strings"),
        ({"labels": ("up", None, "down")}, "three strings"),
    ],
)
def test_label_validates_thresholds_and_labels(kwargs: dict, fragment: str) -> None:
    arguments = {"upper": 0.7, "lower": 0.3, "labels": ("bullish", "neutral", "bearish")} | kwargs
    with pytest.raises(CompositeError, match=fragment):
        label(pd.Series([0.5]), **arguments)


def test_errors_are_value_errors() -> None:
    assert issubclass(CompositeError, ValueError)
