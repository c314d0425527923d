"""The catalog: completeness, documentation and the metric dependency graph."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from quant_assets.metrics import MODULE_IDS, catalog, get, topological_order

#: Every name the product requires (issue 4), under the module that owns it. Sharpe and
#: Sortino belong to allocation (I) and are also read by the risk module (G).
REQUIRED = {
    "trend_moment": [
        "ema", "sma", "rsi", "macd", "bbands", "atr", "adx", "stoch_rsi", "momentum",
        "kalman_trend", "zscore", "wavelet_trend", "hilbert_slope", "fdi",
    ],
    "volat_regime": [
        "hist_vol", "bb_width", "variance_ratio", "range_expansion_index", "garch_vol",
        "entropy", "hurst", "regime_switching",
    ],
    "deriv_sentim": [
        "oi_change_rate", "funding_skew", "volume_imbalance", "liquidation_heatmap",
        "oi_delta_divergence", "volatility_skew", "gamma_exposure",
    ],
    "order_micros": [
        "orderbook_imbalance", "spread", "trade_aggression_ratio", "slippage", "depth_elasticity",
        "cvd", "ofi", "taker_dominance", "liquidity_density",
    ],
    "corr_lead": [
        "pearson_corr", "beta", "rolling_cov", "partial_corr", "lead_lag", "granger", "dtw", "cca",
        "var_model",
    ],
    "onchain": [
        "nupl", "mvrv_zscore", "sopr", "nrpl", "whale_ratio", "exchange_netflow", "stablecoin_flow",
        "etf_net_flow",
    ],
    "risk_expos": [
        "atr_stop", "liquidation_zones", "max_drawdown", "vol_target", "leverage_ratio",
        "value_at_risk", "expected_shortfall", "adaptive_atr_stop",
    ],
    "microalpha": [
        "microprice", "microprice_deviation", "quote_stability", "order_duration", "kyle_lambda",
        "latency_adjusted_flow", "hf_zscore", "trade_direction_ratio", "tick_volume",
    ],
    "port_alloc": [
        "sharpe", "sortino", "conditional_beta", "drawdown_corr", "black_litterman", "hrp",
        "risk_parity",
    ],
    "regime_anomal": [
        "rolling_skew", "rolling_kurt", "cum_return_deviation", "cusum", "isolation_forest",
        "spectral_residual",
    ],
}  # fmt: skip

REQUIRED_OUTPUTS = {
    "macd": ("macd", "macd_signal", "macd_hist"),
    "bbands": ("bb_upper", "bb_middle", "bb_lower", "bb_width", "bb_percent_b"),
    "adx": ("adx", "plus_di", "minus_di"),
    "stoch_rsi": ("stoch_rsi", "stoch_rsi_k", "stoch_rsi_d"),
}

CATALOG = catalog()
NAMES = list(CATALOG.index)


def test_catalog_has_one_row_per_metric_with_the_documented_columns() -> None:
    assert list(CATALOG.columns) == [
        "name", "module", "kind", "inputs", "params", "depends_on", "outputs",
        "value_range", "warmup_bars", "memory_bars", "reference", "summary",
    ]  # fmt: skip
    assert CATALOG.index.is_unique
    assert (CATALOG.index == CATALOG["name"]).all()


@pytest.mark.parametrize("module", sorted(REQUIRED))
def test_every_required_name_is_in_the_catalog_under_its_module(module: str) -> None:
    missing = [n for n in REQUIRED[module] if n not in CATALOG.index]
    assert not missing
    assert (CATALOG.loc[REQUIRED[module], "module"] == module).all()


@pytest.mark.parametrize(("name", "outputs"), sorted(REQUIRED_OUTPUTS.items()))
def test_multi_output_metrics_expose_the_required_columns(name: str, outputs: tuple[str, ...]) -> None:
    assert CATALOG.loc[name, "outputs"] == outputs


def test_modules_are_product_module_ids() -> None:
    assert set(CATALOG["module"]) <= set(MODULE_IDS)


def test_catalog_rows_follow_the_dependency_order() -> None:
    order = topological_order()
    assert order == NAMES
    for name in NAMES:
        for dep in CATALOG.loc[name, "depends_on"]:
            assert dep in CATALOG.index, f"{name} depends on unknown {dep}"
            assert order.index(dep) < order.index(name)


def test_warmup_bars_follow_talib_lookbacks_for_the_defaults() -> None:
    expected = {"ema": 29, "sma": 29, "rsi": 14, "atr": 14, "adx": 27, "macd": 33,
                "stoch_rsi": 31, "bbands": 19, "momentum": 10}  # fmt: skip
    assert {k: int(CATALOG.loc[k, "warmup_bars"]) for k in expected} == expected
    assert (CATALOG["memory_bars"] >= CATALOG["warmup_bars"]).all()


@pytest.mark.parametrize("name", NAMES)
def test_every_metric_is_documented_in_numpy_style_with_a_reference(name: str) -> None:
    spec = get(name)
    doc = spec.doc
    assert spec.summary and spec.summary.endswith(".")
    for section in ("Parameters", "Returns", "Notes", "References"):
        assert re.search(rf"^{section}\n-+$", doc, re.MULTILINE), f"{name}: no {section}"
    for param in spec.params:
        assert re.search(rf"^{param}\b|, {param}\b", doc, re.MULTILINE), (
            f"{name}: parameter {param!r} is not documented"
        )
    assert "Warm-up" in doc or "warm-up" in doc
    assert spec.reference.strip()


def test_importing_the_package_does_not_import_heavy_or_jit_libraries() -> None:
    code = (
        "import sys, quant_assets.metrics as m; "
        "print(len(m.catalog())); "
        "print(sorted(k for k in ('antropy', 'numba', 'tslearn', 'arch', 'statsmodels', "
        "'dagster', 'duckdb', 'httpx') if k in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert int(out[0]) == len(CATALOG)
    assert out[1] == "[]"
