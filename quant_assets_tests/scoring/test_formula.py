"""Affine formula parsing: values, precedence, and every rejection with its position."""

from __future__ import annotations

import io
import itertools
import subprocess
import sys
import tokenize
from pathlib import Path

import numpy as np
import pytest

import quant_assets.scoring
from quant_assets.scoring import MAX_FORMULA_LENGTH, AffineForm, FormulaError, parse_affine

NAMES = ("a", "b", "c", "d", "weighted")


def parsed(text: str) -> tuple[dict[str, float], float]:
    form = parse_affine(text, NAMES)
    return dict(form.coefficients), form.constant


# --------------------------------------------------------------------------- values


def test_rescaled_weighted_mean() -> None:
    assert parsed("2 * weighted - 1") == ({"weighted": 2.0}, -1.0)


def test_mean_of_two_plus_a_scaled_third_minus_a_negated_fourth() -> None:
    coefficients, constant = parsed("(a + b)/2 + 0.1*c - -d")
    assert coefficients == pytest.approx({"a": 0.5, "b": 0.5, "c": 0.1, "d": 1.0}, rel=0, abs=0)
    assert constant == 0.0


@pytest.mark.parametrize(
    ("text", "coefficients", "constant"),
    [
        ("1 + 2 * a", {"a": 2.0}, 1.0),
        ("(1 + 2) * a", {"a": 3.0}, 0.0),
        ("a - b - c", {"a": 1.0, "b": -1.0, "c": -1.0}, 0.0),
        ("a - (b - c)", {"a": 1.0, "b": -1.0, "c": 1.0}, 0.0),
        ("8 / 2 / 2 * a", {"a": 2.0}, 0.0),
        ("a / 4 * 2", {"a": 0.5}, 0.0),
        ("2 * 3 + 4 * a / 2", {"a": 2.0}, 6.0),
    ],
)
def test_precedence_and_left_associativity(
    text: str, coefficients: dict[str, float], constant: float
) -> None:
    assert parsed(text) == (coefficients, constant)


@pytest.mark.parametrize(
    ("text", "coefficients", "constant"),
    [
        ("-a", {"a": -1.0}, 0.0),
        ("--a", {"a": 1.0}, 0.0),
        ("+a", {"a": 1.0}, 0.0),
        ("-(a - 1)", {"a": -1.0}, 1.0),
        ("2 * -a", {"a": -2.0}, 0.0),
        ("-2 * a", {"a": -2.0}, 0.0),
        ("a - -+-b", {"a": 1.0, "b": -1.0}, 0.0),
        ("-" * 499 + "a", {"a": -1.0}, 0.0),
    ],
)
def test_unary_signs(text: str, coefficients: dict[str, float], constant: float) -> None:
    assert parsed(text) == (coefficients, constant)


@pytest.mark.parametrize(
    ("text", "value"),
    [("1", 1.0), ("0.5", 0.5), ("2e-3", 2e-3), ("1E+2", 100.0), ("1.5e3", 1500.0), ("007", 7.0)],
)
def test_numbers(text: str, value: float) -> None:
    assert parsed(text) == ({}, value)


def test_names_whose_coefficients_cancel_are_dropped() -> None:
    assert parsed("a - a + b") == ({"b": 1.0}, 0.0)
    assert parsed("0 * a + 1") == ({}, 1.0)
    assert parsed("(a - a) * b") == ({}, 0.0)


def test_coefficients_keep_the_order_of_first_appearance_and_whitespace_is_free() -> None:
    assert list(parse_affine("\tc +\n a\r\n+ b ", NAMES).coefficients) == ["c", "a", "b"]


def test_a_formula_of_the_maximum_length_is_accepted() -> None:
    text = "a + " * 124 + "1000"
    assert len(text) == MAX_FORMULA_LENGTH
    assert parsed(text) == ({"a": 124.0}, 1000.0)


def test_evaluate_sums_coefficient_times_value_plus_constant() -> None:
    form = parse_affine("2 * a - b / 4 + 3", NAMES)
    assert form.evaluate({"a": 1.5, "b": 8.0, "c": 99.0}) == 4.0
    result = form.evaluate({"a": np.array([0.0, 1.0]), "b": 4.0})
    np.testing.assert_array_equal(result, [2.0, 4.0])
    assert parse_affine("7", NAMES).evaluate({}) == 7.0


def test_evaluate_names_a_missing_value() -> None:
    with pytest.raises(FormulaError, match="'b'"):
        parse_affine("a + b", NAMES).evaluate({"a": 1.0})


def test_affine_form_is_read_only_and_finite() -> None:
    form = AffineForm({"a": 1}, 2)
    assert form.coefficients == {"a": 1.0} and form.constant == 2.0
    with pytest.raises(TypeError):
        form.coefficients["a"] = 3.0  # type: ignore[index]
    with pytest.raises(FormulaError, match=r"coefficients\['a'\]"):
        AffineForm({"a": float("nan")}, 0.0)
    with pytest.raises(FormulaError, match="constant"):
        AffineForm({}, float("inf"))


# --------------------------------------------------------------------------- rejections


@pytest.mark.parametrize(
    ("text", "reason", "position"),
    [
        ("", "empty formula", 0),
        ("   ", "empty formula", 0),
        ("a +", "expected a number, a name or '(' but found the end of the formula", 3),
        ("a $ b", "unexpected character '$'", 2),
        ("A", "unexpected character 'A'", 0),
        ("a.b", "unexpected character '.'", 1),
        ("a[0]", "unexpected character '['", 1),
        ("'a'", 'unexpected character "\'"', 0),
        ("(a + b", "expected ')' to close the '(' at position 0 but found the end of the formula", 6),
        ("a + b)", "unmatched ')'", 5),
        ("a b", "unexpected name 'b'", 2),
        ("a + 2 3", "unexpected number '3'", 6),
        ("a + e", "unknown name 'e' (known names: a, b, c, d, weighted)", 4),
        ("a if b else c", "unknown name 'if'", 2),
        ("a * b", "is not linear in the components: product of two non-constant terms", 2),
        ("(a + 1) * (b - 1)", "is not linear in the components: product of two non-constant terms", 8),
        ("a / b", "is not linear in the components: division by a non-constant term", 2),
        ("a / (2 - 2)", "division by zero", 2),
        ("2x", "malformed number '2x'", 0),
        ("1.", "malformed number '1.'", 0),
        ("1.5.2", "malformed number '1.5.'", 0),
        ("1e999", "number '1e999' out of range", 0),
        ("1e300 * 1e300", "arithmetic overflow", 6),
        ("a ** 2", "expected a number, a name or '(' but found '*'", 3),
        ("__import__('os')", "unknown name '__import__'", 0),
        ("(" * 51 + "a" + ")" * 51, "parentheses nested deeper than 50", 50),
    ],
)
def test_rejections_give_the_reason_and_the_position(text: str, reason: str, position: int) -> None:
    with pytest.raises(FormulaError) as error:
        parse_affine(text, NAMES)
    message = str(error.value)
    assert reason in message
    assert message.endswith(f"at position {position}")


def test_text_longer_than_the_limit_is_rejected() -> None:
    with pytest.raises(FormulaError, match=r"501 characters long, more than 500, at position 500"):
        parse_affine("a" + " " * 500, NAMES)


def test_text_must_be_a_string() -> None:
    with pytest.raises(FormulaError, match="must be a string"):
        parse_affine(b"a", NAMES)  # type: ignore[arg-type]


def test_errors_are_value_errors() -> None:
    assert issubclass(FormulaError, ValueError)


def test_the_scoring_package_never_evaluates_text_as_code() -> None:
    # The builtins and modules that run or build code; ``re.compile`` (an attribute) is fine.
    forbidden = {"eval", "exec", "compile", "ast", "__import__", "importlib"}
    for path in Path(quant_assets.scoring.__file__).parent.glob("*.py"):
        tokens = list(tokenize.generate_tokens(io.StringIO(path.read_text()).readline))
        used = {
            token.string
            for previous, token in itertools.pairwise(tokens)
            if token.type == tokenize.NAME and token.string in forbidden and previous.string != "."
        }
        assert not used, f"{path.name} uses {sorted(used)}"


def test_the_scoring_package_imports_neither_dagster_nor_duckdb() -> None:
    code = "import sys, quant_assets.scoring; print(sorted({'dagster', 'duckdb'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
