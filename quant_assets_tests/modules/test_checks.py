"""The score checks' statistics: drift against the trailing month, with autocorrelation."""

import numpy as np
import pandas as pd
import pytest

from quant_assets.modules.checks import drift_check, effective_size


def _ar1(n: int, rho: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty(n)
    out[0] = rng.normal()
    for t in range(1, n):
        out[t] = rho * out[t - 1] + np.sqrt(1 - rho**2) * rng.normal()
    return out


def test_a_smooth_hourly_score_is_worth_far_fewer_independent_values():
    values = _ar1(20_000, 0.95, seed=1)
    assert effective_size(values) == pytest.approx(20_000 * 0.05 / 1.95, rel=0.15)
    assert effective_size(np.random.default_rng(2).normal(size=1000)) == pytest.approx(1000, rel=0.1)
    assert effective_size(np.full(50, 0.3)) == 50


def test_a_score_that_wanders_with_the_market_is_not_drift():
    """A week and the month before it of a smooth score (AR(1), ρ = 0.97 per hour): their
    empirical distributions often differ a lot, and the naive KS p-value (with D > 0.5)
    flags 5 of these 40 weeks."""
    flagged = 0
    for seed in range(40):
        score = 1.0 / (1.0 + np.exp(-_ar1(24 * 37, 0.97, seed)))
        result = drift_check(pd.Series(score[-168:]), pd.Series(score[:-168]))
        flagged += not result.passed
    assert flagged <= 1


def test_a_pinned_or_rescaled_score_is_drift():
    trailing = pd.Series(1.0 / (1.0 + np.exp(-_ar1(24 * 30, 0.97, seed=5))))
    pinned = drift_check(pd.Series(np.full(168, 1.0)), trailing)
    assert not pinned.passed and pinned.severity == "WARN"
    assert "KS D=" in pinned.description and "effective sizes" in pinned.description
    rescaled = drift_check(pd.Series(np.random.default_rng(6).uniform(0.95, 1.0, 168)), trailing)
    assert not rescaled.passed


def test_too_few_values_pass_and_say_so():
    result = drift_check(pd.Series([0.5] * 10), pd.Series(np.linspace(0, 1, 100)))
    assert result.passed and "too few values" in result.description
