"""Safe parsing of affine score formulas such as ``2 * weighted - 1``.

A module may declare how its components combine into a score as a formula
over component names. The text comes from configuration, so it is never
executed: a hand-written tokenizer and recursive-descent parser read it into
an :class:`AffineForm` (coefficients and a constant), and anything outside the
grammar is rejected with the position and the reason. The grammar::

    expr   := term (('+' | '-') term)*
    term   := factor (('*' | '/') factor)*
    factor := ('+' | '-') factor | NUMBER | NAME | '(' expr ')'
    NUMBER := digits ['.' digits] [('e' | 'E') ['+' | '-'] digits]
    NAME   := [a-z_][a-z0-9_]*      (one of the known names)

Only affine results are accepted: a product needs a constant factor and a
divisor must be a constant other than zero, so a score stays a weighted sum of
its components, which is what lets each score be explained as the sum of
per-component contributions.

References
----------
A. V. Aho, M. S. Lam, R. Sethi, J. D. Ullman, *Compilers: Principles,
Techniques, and Tools*, 2nd ed., Addison-Wesley, 2006, §4.4 (recursive-descent
parsing).
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

__all__ = ["MAX_FORMULA_LENGTH", "NAME_PATTERN", "AffineForm", "FormulaError", "parse_affine"]

#: Longest formula text accepted, in characters.
MAX_FORMULA_LENGTH = 500
#: Parentheses nested deeper than this are rejected (keeps the parser's recursion shallow).
MAX_NESTING = 50
#: What a name in a formula looks like.
NAME_PATTERN: re.Pattern[str] = re.compile(r"[a-z_][a-z0-9_]*")

_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_OPERATORS = frozenset("+-*/()")
_WHITESPACE = frozenset(" \t\r\n")


class FormulaError(ValueError):
    """A formula that cannot be parsed, or is not affine; the message gives the position and reason."""


@dataclass(frozen=True)
class AffineForm:
    """``Σ coefficients[name] · name + constant``.

    Attributes
    ----------
    coefficients : Mapping[str, float]
        Non-zero coefficient of each name, in order of first appearance in the
        formula (a read-only mapping).
    constant : float
        The constant term.
    """

    coefficients: Mapping[str, float]
    constant: float = 0.0

    def __post_init__(self) -> None:
        coefficients: dict[str, float] = {}
        for name, value in dict(self.coefficients).items():
            if not isinstance(name, str):
                raise FormulaError(f"coefficients: names must be strings (got {name!r})")
            coefficient = float(value)
            if not math.isfinite(coefficient):
                raise FormulaError(f"coefficients[{name!r}] must be finite (got {value!r})")
            coefficients[name] = coefficient
        constant = float(self.constant)
        if not math.isfinite(constant):
            raise FormulaError(f"constant must be finite (got {self.constant!r})")
        object.__setattr__(self, "coefficients", MappingProxyType(coefficients))
        object.__setattr__(self, "constant", constant)

    def evaluate(self, values: Mapping[str, np.ndarray | float]) -> np.ndarray | float:
        """``Σ coefficients[name] · values[name] + constant``.

        Parameters
        ----------
        values : Mapping[str, ndarray or float]
            A value (scalar or array, broadcastable together) for every name with
            a coefficient; other entries are ignored.

        Returns
        -------
        ndarray or float
            A float when every value used is a scalar, else an array.
        """
        missing = [name for name in self.coefficients if name not in values]
        if missing:
            raise FormulaError(f"values: no value for {', '.join(map(repr, missing))}, used by the formula")
        total: np.ndarray | float = self.constant
        for name, coefficient in self.coefficients.items():
            total = total + coefficient * np.asarray(values[name], dtype=np.float64)
        return float(total) if np.ndim(total) == 0 else np.asarray(total)


@dataclass(frozen=True)
class _Token:
    kind: str  # "number", "name", an operator character, or "end"
    text: str
    position: int


@dataclass(frozen=True)
class _Linear:
    """An affine sub-expression: coefficients (possibly zero) and a constant."""

    coefficients: dict[str, float]
    constant: float

    @property
    def is_constant(self) -> bool:
        return not any(self.coefficients.values())

    def scaled(self, factor: float) -> _Linear:
        return _Linear({k: v * factor for k, v in self.coefficients.items()}, self.constant * factor)

    def plus(self, other: _Linear, sign: float) -> _Linear:
        coefficients = dict(self.coefficients)
        for name, value in other.coefficients.items():
            coefficients[name] = coefficients.get(name, 0.0) + sign * value
        return _Linear(coefficients, self.constant + sign * other.constant)

    def is_finite(self) -> bool:
        return math.isfinite(self.constant) and all(math.isfinite(v) for v in self.coefficients.values())


class _Parser:
    """Recursive-descent parser of one formula; each rule returns a :class:`_Linear`."""

    def __init__(self, text: str, names: Collection[str]) -> None:
        self.text = text
        self.names = names
        self.tokens = self._tokenize()
        self.index = 0
        self.depth = 0

    def error(self, reason: str, position: int) -> FormulaError:
        return FormulaError(f"formula {self.text!r}: {reason} at position {position}")

    def _tokenize(self) -> list[_Token]:
        text = self.text
        tokens: list[_Token] = []
        i = 0
        while i < len(text):
            char = text[i]
            if char in _WHITESPACE:
                i += 1
                continue
            if char in _OPERATORS:
                tokens.append(_Token(char, char, i))
                i += 1
                continue
            number = _NUMBER.match(text, i)
            if number:
                end = number.end()
                if end < len(text) and (text[end].isalnum() or text[end] in "._"):
                    raise self.error(f"malformed number {text[i : end + 1]!r}", i)
                tokens.append(_Token("number", number.group(), i))
                i = end
                continue
            name = NAME_PATTERN.match(text, i)
            if name:
                if name.group() not in self.names:
                    known = ", ".join(sorted(self.names)) or "none"
                    raise self.error(f"unknown name {name.group()!r} (known names: {known})", i)
                tokens.append(_Token("name", name.group(), i))
                i = name.end()
                continue
            raise self.error(f"unexpected character {char!r}", i)
        tokens.append(_Token("end", "", len(text)))
        return tokens

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def checked(self, result: _Linear, position: int) -> _Linear:
        if not result.is_finite():
            raise self.error("arithmetic overflow", position)
        return result

    def parse(self) -> _Linear:
        if self.peek().kind == "end":
            raise self.error("empty formula", 0)
        result = self.expr()
        token = self.peek()
        if token.kind != "end":
            reason = "unmatched ')'" if token.kind == ")" else f"unexpected {self.describe(token)}"
            raise self.error(f"{reason}; expected an operator or the end of the formula", token.position)
        return result

    def expr(self) -> _Linear:
        result = self.term()
        while self.peek().kind in ("+", "-"):
            operator = self.take()
            right = self.term()
            sign = 1.0 if operator.kind == "+" else -1.0
            result = self.checked(result.plus(right, sign), operator.position)
        return result

    def term(self) -> _Linear:
        result = self.factor()
        while self.peek().kind in ("*", "/"):
            operator = self.take()
            right = self.factor()
            if operator.kind == "*":
                if not result.is_constant and not right.is_constant:
                    raise self.error(
                        "is not linear in the components: product of two non-constant terms",
                        operator.position,
                    )
                if result.is_constant:
                    result = right.scaled(result.constant)
                else:
                    result = result.scaled(right.constant)
            else:
                if not right.is_constant:
                    raise self.error(
                        "is not linear in the components: division by a non-constant term",
                        operator.position,
                    )
                if right.constant == 0.0:
                    raise self.error("division by zero", operator.position)
                result = result.scaled(1.0 / right.constant)
            result = self.checked(result, operator.position)
        return result

    def factor(self) -> _Linear:
        # Unary signs are folded in a loop: a long run of them must not deepen the recursion.
        negate = False
        token = self.take()
        while token.kind in ("+", "-"):
            negate ^= token.kind == "-"
            token = self.take()
        operand = self.primary(token)
        return operand.scaled(-1.0) if negate else operand

    def primary(self, token: _Token) -> _Linear:
        if token.kind == "number":
            value = float(token.text)
            if not math.isfinite(value):
                raise self.error(f"number {token.text!r} out of range", token.position)
            return _Linear({}, value)
        if token.kind == "name":
            return _Linear({token.text: 1.0}, 0.0)
        if token.kind == "(":
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise self.error(f"parentheses nested deeper than {MAX_NESTING}", token.position)
            inner = self.expr()
            closing = self.take()
            if closing.kind != ")":
                raise self.error(
                    f"expected ')' to close the '(' at position {token.position} "
                    f"but found {self.describe(closing)}",
                    closing.position,
                )
            self.depth -= 1
            return inner
        raise self.error(f"expected a number, a name or '(' but found {self.describe(token)}", token.position)

    @staticmethod
    def describe(token: _Token) -> str:
        if token.kind == "end":
            return "the end of the formula"
        if token.kind in ("number", "name"):
            return f"{token.kind} {token.text!r}"
        return repr(token.text)


def parse_affine(text: str, names: Collection[str]) -> AffineForm:
    """Parse ``text`` into an affine form over ``names``, without executing it.

    Parameters
    ----------
    text : str
        The formula, at most :data:`MAX_FORMULA_LENGTH` characters, in the grammar
        of this module (numbers, names, ``+ - * /`` and parentheses).
    names : Collection[str]
        The names the formula may use.

    Returns
    -------
    AffineForm
        ``Σ c_name · name + c_0``; names whose coefficients cancel to exactly zero
        are left out.

    Raises
    ------
    FormulaError
        Empty or too long text; a character outside the grammar; a malformed or
        out-of-range number; an unknown name (with the known ones); unbalanced
        parentheses or trailing input; a product of two non-constant terms or a
        division by a non-constant term (not linear); division by zero; an
        overflowing constant. The message gives the character position (from 0).

    Examples
    --------
    >>> parse_affine("2 * weighted - 1", {"weighted"})
    AffineForm(coefficients=mappingproxy({'weighted': 2.0}), constant=-1.0)
    """
    if not isinstance(text, str):
        raise FormulaError(f"formula must be a string (got {type(text).__name__})")
    if len(text) > MAX_FORMULA_LENGTH:
        raise FormulaError(
            f"formula {text[:40]!r}... is {len(text)} characters long, more than {MAX_FORMULA_LENGTH}, "
            f"at position {MAX_FORMULA_LENGTH}"
        )
    result = _Parser(text, names).parse()
    coefficients = {name: value for name, value in result.coefficients.items() if value != 0.0}
    return AffineForm(coefficients, result.constant + 0.0)
