"""The registry: declaration rules, input validation messages, dependency graph."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from quant_assets.metrics import MetricInputError, compute
from quant_assets.metrics.registry import MetricDefinitionError, Registry, at_least
from quant_assets_tests.metrics.signals import hourly_index, random_bars

DOC = """Toy metric.

Parameters
----------
data : DataFrame
    Bars.

Returns
-------
ndarray
    Values.

References
----------
None, a test double.
"""


def toy(registry: Registry, name: str, *, depends_on: tuple[str, ...] = (), **extra: object):
    """Register ``name`` (close doubled) in ``registry``."""

    def func(data: pd.DataFrame) -> np.ndarray:
        return 2.0 * data["close"].to_numpy()

    func.__doc__ = DOC
    options: dict = {
        "name": name,
        "module": "trend_moment",
        "inputs": ("close",),
        "outputs": (name,),
        "depends_on": depends_on,
        "reference": "test",
    }
    options.update(extra)
    return registry.metric(**options)(func)


@pytest.fixture
def bars() -> pd.DataFrame:
    return random_bars(100, seed=0)


def message(excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    return str(excinfo.value)


# --------------------------------------------------------------------------- input validation


def test_missing_column_names_the_metric_the_column_and_what_is_there(bars: pd.DataFrame) -> None:
    with pytest.raises(MetricInputError) as excinfo:
        compute("rsi", bars[["open", "high"]])
    assert message(excinfo) == "rsi: column 'close' is missing from data (have: open, high)"


def test_input_errors_are_value_errors(bars: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"^atr: column 'low'"):
        compute("atr", bars.drop(columns="low"))


def test_non_monotonic_index_is_rejected_with_the_offending_rows(bars: pd.DataFrame) -> None:
    shuffled = bars.iloc[[0, 1, 3, 2, *range(4, 100)]]
    with pytest.raises(
        MetricInputError,
        match=r"^ema: index of 'data' is not monotonic "
        r"increasing \(2024-01-01 02:00:00 at row 3 follows 2024-01-01 03:00:00\)",
    ):
        compute("ema", shuffled)


def test_duplicate_timestamps_are_rejected(bars: pd.DataFrame) -> None:
    duplicated = bars.iloc[[0, 1, 1, *range(2, 100)]]
    with pytest.raises(
        MetricInputError,
        match=r"^sma: index of 'data' has duplicate timestamps "
        r"\(first: 2024-01-01 01:00:00 at row 2\)",
    ):
        compute("sma", duplicated)


def test_timezone_aware_index_is_rejected_with_the_fix(bars: pd.DataFrame) -> None:
    aware = bars.tz_localize("UTC")
    with pytest.raises(
        MetricInputError,
        match=r"^rsi: index of 'data' must be naive UTC "
        r"\(got tz=UTC\); convert with",
    ):
        compute("rsi", aware)


def test_non_datetime_index_is_rejected(bars: pd.DataFrame) -> None:
    with pytest.raises(
        MetricInputError,
        match=r"^rsi: index of 'data' must be a DatetimeIndex "
        r"\(got RangeIndex\)",
    ):
        compute("rsi", bars.reset_index(drop=True))


def test_non_numeric_column_is_rejected(bars: pd.DataFrame) -> None:
    text = bars.assign(close=bars["close"].astype(str))
    with pytest.raises(
        MetricInputError,
        match=r"^rsi: column 'close' must be numeric "
        r"\(got dtype object\)",
    ):
        compute("rsi", text)


def test_boolean_column_is_not_numeric(bars: pd.DataFrame) -> None:
    with pytest.raises(MetricInputError, match=r"^rsi: column 'close' must be numeric"):
        compute("rsi", bars.assign(close=bars["close"] > 100))


def test_missing_values_are_reported_with_their_first_timestamp(bars: pd.DataFrame) -> None:
    holes = bars.copy()
    holes.iloc[[10, 20], holes.columns.get_loc("close")] = np.nan
    with pytest.raises(
        MetricInputError,
        match=r"^rsi: column 'close' has 2 missing or infinite "
        r"values \(first at 2024-01-01 10:00:00\)",
    ):
        compute("rsi", holes)


def test_too_few_rows_for_the_warm_up_are_rejected(bars: pd.DataFrame) -> None:
    with pytest.raises(MetricInputError) as excinfo:
        compute("adx", bars.iloc[:27])
    assert message(excinfo) == (
        "adx: argument 'data' has 27 rows, needs at least 28 (warm-up of 27 bars for timeperiod=14)"
    )
    assert compute("adx", bars.iloc[:28])["adx"].notna().sum() == 1


def test_a_series_is_not_accepted_and_the_fix_is_suggested(bars: pd.DataFrame) -> None:
    with pytest.raises(
        MetricInputError,
        match=r"^rsi: argument 'data' must be a pandas DataFrame "
        r"\(got Series\); use series.to_frame\('close'\)",
    ):
        compute("rsi", bars["close"])


def test_unknown_parameter_lists_the_known_ones(bars: pd.DataFrame) -> None:
    with pytest.raises(MetricInputError) as excinfo:
        compute("macd", bars, fast=5)
    assert message(excinfo) == (
        "macd: parameter 'fast' is not a parameter of this metric "
        "(known: fastperiod, slowperiod, signalperiod)"
    )


def test_parameter_of_the_wrong_type_is_rejected(bars: pd.DataFrame) -> None:
    with pytest.raises(
        MetricInputError,
        match=r"^rsi: parameter 'timeperiod' must be an integer "
        r"\(got float 14.5\)",
    ):
        compute("rsi", bars, timeperiod=14.5)
    with pytest.raises(MetricInputError, match="must be an integer"):
        compute("rsi", bars, timeperiod=True)


def test_parameter_constraints_are_checked(bars: pd.DataFrame) -> None:
    with pytest.raises(
        MetricInputError,
        match=r"^rsi: parameter 'timeperiod' must be >= 2 "
        r"\(got 1\)",
    ):
        compute("rsi", bars, timeperiod=1)
    with pytest.raises(
        MetricInputError,
        match=r"^macd: parameter 'slowperiod' must be greater "
        r"than fastperiod=30 \(got 26\)",
    ):
        compute("macd", bars, fastperiod=30)
    with pytest.raises(MetricInputError, match=r"^garch_vol: parameter 'refit_every' must be"):
        compute("garch_vol", bars, refit_every="every day")
    with pytest.raises(MetricInputError, match=r"^garch_vol: parameter 'dist' must be one of"):
        compute("garch_vol", bars, dist="skewt")


def test_numpy_integers_are_accepted_as_integer_parameters(bars: pd.DataFrame) -> None:
    pd.testing.assert_series_equal(
        compute("rsi", bars, timeperiod=np.int64(10)), compute("rsi", bars, timeperiod=10)
    )


def test_unknown_metric_is_a_key_error(bars: pd.DataFrame) -> None:
    with pytest.raises(KeyError, match="unknown metric 'rsii'"):
        compute("rsii", bars)


# --------------------------------------------------------------------------- output shape


def test_single_output_is_a_series_named_after_it_aligned_to_the_input(bars: pd.DataFrame) -> None:
    result = compute("rsi", bars)
    assert isinstance(result, pd.Series)
    assert result.name == "rsi"
    assert result.index.equals(bars.index)
    assert result.dtype == np.float64


def test_multi_output_is_a_frame_with_the_declared_columns(bars: pd.DataFrame) -> None:
    result = compute("macd", bars)
    assert isinstance(result, pd.DataFrame)
    assert list(result.columns) == ["macd", "macd_signal", "macd_hist"]
    assert result.index.equals(bars.index)


def test_the_decorated_function_itself_validates_and_shapes(bars: pd.DataFrame) -> None:
    from quant_assets.metrics.trend import rsi

    pd.testing.assert_series_equal(rsi(bars, timeperiod=9), compute("rsi", bars, timeperiod=9))
    with pytest.raises(MetricInputError):
        rsi(bars.drop(columns="close"))
    assert rsi.__doc__.startswith("Relative Strength Index")


def test_a_function_returning_the_wrong_shape_is_a_programming_error() -> None:
    registry = Registry()

    def broken(data: pd.DataFrame) -> np.ndarray:
        return np.zeros(3)

    broken.__doc__ = DOC
    registry.metric(
        name="broken",
        module="trend_moment",
        inputs=("close",),
        outputs=("broken",),
        reference="test",
    )(broken)
    data = pd.DataFrame({"close": np.ones(10)}, index=hourly_index(10))
    with pytest.raises(TypeError, match=re.escape("broken: output 'broken' has shape (3,)")):
        registry.compute("broken", data)


# --------------------------------------------------------------------------- declaration rules


def test_declared_defaults_must_equal_the_function_signature() -> None:
    registry = Registry()

    def func(data: pd.DataFrame, *, n: int = 5) -> np.ndarray:
        return data["close"].to_numpy()

    func.__doc__ = DOC
    with pytest.raises(MetricDefinitionError, match="default of 'n' is 3 in the declaration"):
        registry.metric(
            name="m",
            module="trend_moment",
            inputs=("close",),
            outputs=("m",),
            params={"n": 3},
            reference="test",
        )(func)


def test_a_docstring_without_a_references_section_is_rejected() -> None:
    registry = Registry()

    def func(data: pd.DataFrame) -> np.ndarray:
        """Only a summary."""
        return data["close"].to_numpy()

    with pytest.raises(MetricDefinitionError, match="lacks a numpy-style 'Parameters' section"):
        registry.metric(name="m", module="trend_moment", inputs=("close",), outputs=("m",), reference="x")(
            func
        )


def test_unknown_module_ids_and_duplicate_names_are_rejected() -> None:
    registry = Registry()
    with pytest.raises(MetricDefinitionError, match="module 'trend' is not one of trend_moment"):
        toy(registry, "a", module="trend")
    toy(registry, "a")
    with pytest.raises(MetricDefinitionError, match="'a': is registered twice"):
        toy(registry, "a")


def test_default_parameters_must_satisfy_their_constraints() -> None:
    registry = Registry()

    def func(data: pd.DataFrame, *, n: int = 1) -> np.ndarray:
        return data["close"].to_numpy()

    func.__doc__ = DOC
    with pytest.raises(MetricDefinitionError, match="default parameters are invalid"):
        registry.metric(
            name="m",
            module="trend_moment",
            inputs=("close",),
            outputs=("m",),
            params={"n": 1},
            constraints={"n": at_least(2)},
            reference="test",
        )(func)


# --------------------------------------------------------------------------- dependency graph


def test_topological_order_puts_dependencies_first() -> None:
    registry = Registry()
    toy(registry, "score", depends_on=("trend", "vol"))
    toy(registry, "trend", depends_on=("returns",))
    toy(registry, "vol", depends_on=("returns",))
    toy(registry, "returns")
    order = registry.topological_order()
    assert sorted(order) == ["returns", "score", "trend", "vol"]
    for name in order:
        for dep in registry.get(name).depends_on:
            assert order.index(dep) < order.index(name)


def test_a_dependency_cycle_is_an_error_that_shows_the_cycle() -> None:
    registry = Registry()
    toy(registry, "a", depends_on=("b",))
    toy(registry, "b", depends_on=("c",))
    toy(registry, "c", depends_on=("a",))
    with pytest.raises(MetricDefinitionError, match="metric dependency cycle: a -> b -> c -> a"):
        registry.resolve()


def test_a_missing_dependency_is_an_error() -> None:
    registry = Registry()
    toy(registry, "a", depends_on=("ghost",))
    with pytest.raises(MetricDefinitionError, match="metric 'a' depends on 'ghost', which is not registered"):
        registry.resolve()


def test_a_metric_depending_on_itself_is_rejected_at_declaration() -> None:
    with pytest.raises(MetricDefinitionError, match="depends on itself"):
        toy(Registry(), "a", depends_on=("a",))


def test_the_package_resolves_its_graph_at_import() -> None:
    import quant_assets.metrics as metrics

    assert metrics.topological_order() == metrics.REGISTRY.resolve()


# --------------------------------------------------------------------------- cross-asset metrics


def wide_returns(n: int = 40, symbols: tuple[str, ...] = ("BTC", "ETH", "SOL")) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        rng.normal(0.0, 0.01, (n, len(symbols))), index=hourly_index(n), columns=list(symbols)
    )


def cross_toy(registry: Registry, func, *, layout: str | None, **extra: object):
    """Register ``func`` as a cross-asset metric ``m`` in ``registry``."""
    func.__doc__ = DOC
    options: dict = {
        "name": "m",
        "module": "corr_lead",
        "kind": "cross_asset",
        "inputs": (),
        "outputs": ("m",),
        "layout": layout,
        "reference": "test",
    }
    options.update(extra)
    return registry.metric(**options)(func)


def test_cross_asset_columns_must_be_numeric_symbol_names() -> None:
    returns = wide_returns()
    with pytest.raises(MetricInputError) as excinfo:
        compute("pearson_corr", returns.set_axis([0, 1, 2], axis=1), timeperiod=10)
    assert (
        message(excinfo)
        == "pearson_corr: column 0 must be labelled by its symbol, a non-empty string (got int)"
    )
    with pytest.raises(MetricInputError, match=r"^beta: column 'ETH' must be numeric \(got dtype object\)"):
        compute("beta", returns.assign(ETH="x"), timeperiod=10)
    with pytest.raises(MetricInputError, match=r"^beta: column 'ETH' appears more than once in data"):
        compute("beta", returns.set_axis(["BTC", "ETH", "ETH"], axis=1), timeperiod=10)


def test_cross_asset_index_follows_the_per_symbol_rules() -> None:
    returns = wide_returns()
    with pytest.raises(MetricInputError, match=r"^pearson_corr: index of 'data' has duplicate timestamps"):
        compute("pearson_corr", returns.iloc[[0, 1, 1, *range(2, 40)]], timeperiod=10)
    with pytest.raises(MetricInputError, match=r"^hrp: index of 'data' must be naive UTC"):
        compute("hrp", returns.tz_localize("UTC"), window=10)


def test_a_cross_asset_metric_declares_a_layout_and_no_input_columns() -> None:
    def func(data: pd.DataFrame) -> np.ndarray:
        return np.zeros(len(data))

    with pytest.raises(
        MetricDefinitionError, match="must declare layout as one of pairwise, per_asset, aggregate"
    ):
        cross_toy(Registry(), func, layout=None)
    with pytest.raises(MetricDefinitionError, match="reads every column of its frame; declare no inputs"):
        cross_toy(Registry(), func, layout="aggregate", inputs=("close",))
    with pytest.raises(MetricDefinitionError, match="layout applies to cross-asset metrics only"):
        toy(Registry(), "a", layout="pairwise")


def test_pairwise_and_per_asset_results_carry_an_output_level_and_the_data_index() -> None:
    returns = wide_returns()
    registry = Registry()

    def pairs(data: pd.DataFrame) -> dict[str, pd.DataFrame]:
        columns = pd.MultiIndex.from_tuples([("BTC", "ETH"), ("ETH", "BTC")])
        return {"m": pd.DataFrame(1, index=data.index, columns=columns)}

    result = cross_toy(registry, pairs, layout="pairwise")(returns)
    assert result.index.equals(returns.index)
    assert result.columns.names == ["output", "x", "y"]
    assert list(result.columns) == [("m", "BTC", "ETH"), ("m", "ETH", "BTC")]
    assert (result.dtypes == np.float64).all()

    def weights(data: pd.DataFrame) -> dict[str, pd.DataFrame]:
        return {"w": pd.DataFrame(1 / 3, index=data.index, columns=data.columns)}

    result = cross_toy(Registry(), weights, layout="per_asset", outputs=("w",))(returns)
    assert result.columns.names == ["output", "symbol"]
    assert list(result["w"].columns) == ["BTC", "ETH", "SOL"]


def test_a_cross_asset_result_naming_an_unknown_symbol_is_a_programming_error() -> None:
    def wrong(data: pd.DataFrame) -> dict[str, pd.DataFrame]:
        return {"m": pd.DataFrame(0.0, index=data.index, columns=["BTC", "DOGE"])}

    metric_ = cross_toy(Registry(), wrong, layout="per_asset")
    with pytest.raises(TypeError, match=r"^m: output 'm' has column 'DOGE', expected a symbol of data"):
        metric_(wide_returns())

    def misaligned(data: pd.DataFrame) -> dict[str, pd.DataFrame]:
        return {"m": pd.DataFrame(0.0, index=data.index[1:], columns=["BTC"])}

    with pytest.raises(TypeError, match=r"^m: output 'm' must be a DataFrame indexed like data"):
        cross_toy(Registry(), misaligned, layout="per_asset")(wide_returns())


def test_an_aggregate_cross_asset_result_is_shaped_like_a_per_symbol_one() -> None:
    def dispersion(data: pd.DataFrame) -> np.ndarray:
        return data.to_numpy().std(axis=1)

    returns = wide_returns()
    result = cross_toy(Registry(), dispersion, layout="aggregate")(returns)
    assert isinstance(result, pd.Series) and result.name == "m"
    assert result.index.equals(returns.index)
