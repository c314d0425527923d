"""Every parser accepts recorded real payloads and documented shapes, and rejects bad ones clearly."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quant_assets.raw import parsers, schemas
from quant_assets.raw.parsers import ParseContext, ParseError
from quant_assets.sources.base import Request

FIXTURES = Path(__file__).parents[1] / "fixtures"


def read(name: str) -> str:
    return (FIXTURES / name).read_text()


def ctx(endpoint: str, key: str = "BTCUSDT", family: str = "test") -> ParseContext:
    return ParseContext(family, key, Request.of(endpoint, symbol=key), received_at_ms=1_731_016_800_000)


def parse(parser, name: str, endpoint: str, key: str = "BTCUSDT") -> pd.DataFrame:
    return parser([read(name)], ctx(endpoint, key))


def test_spot_klines_from_ccxt_recording_are_typed_and_valid():
    frame = parse(parsers.parse_klines, "ccxt/api_v3_klines_BTCUSDT_1h_limit3.json", "/api/v3/klines")
    schemas.Klines.validate(frame)
    assert len(frame) == 3
    assert frame["ts"].iloc[0] == pd.Timestamp("2024-01-30 16:00:00")
    assert frame["close_time"].iloc[0] == pd.Timestamp("2024-01-30 16:59:59.999")
    assert frame["open"].iloc[0] == 43519.34
    assert frame["trade_count"].dtype == np.int64 and frame["trade_count"].iloc[0] == 3743
    assert str(frame["ts"].dtype) == "datetime64[us]"


def test_futures_klines_ignore_the_twelfth_field():
    frame = parse(parsers.parse_klines, "ccxt/fapi_v1_klines_BTCUSDT_1m_limit3.json", "/fapi/v1/klines")
    schemas.Klines.validate(frame)
    assert frame["volume"].tolist()[:2] == [0.002, 0.12]


def test_mark_price_klines():
    frame = parse(parsers.parse_mark_price_klines, "documented/fapi_v1_markPriceKlines_BTCUSDT.json",
                  "/fapi/v1/markPriceKlines")
    schemas.MarkPriceKlines.validate(frame)
    assert frame[["open", "close"]].iloc[0].tolist() == [64001.13, 64088.90]


def test_depth_snapshots_spot_and_futures_with_string_ids():
    spot = parse(parsers.parse_depth, "ccxt/api_v3_depth_BTCUSDT_limit2.json", "/api/v3/depth")
    futures = parse(parsers.parse_depth, "ccxt/fapi_v1_depth_BTCUSDT_limit5.json", "/fapi/v1/depth")
    for frame in (spot, futures):
        schemas.DepthSnapshots.validate(frame)
    assert spot["last_update_id"].iloc[0] == 25445101  # served as a string by the recorder
    assert spot["ts"].iloc[0] == pd.Timestamp(1_731_016_800_000, unit="ms")  # no time: request time
    assert futures["ts"].iloc[0] == pd.Timestamp(1706803917258, unit="ms")  # transaction time T
    assert futures.groupby("side")["level"].max().to_dict() == {"ask": 5, "bid": 5}
    best = futures[futures["level"] == 1].set_index("side")["price"]
    assert best["bid"] == 42651.10 and best["ask"] == 42878.00


def test_partial_depth_stream_message():
    frame = parse(parsers.parse_depth, "documented/ws_depth20_BTCUSDT.json", "btcusdt@depth20")
    schemas.DepthSnapshots.validate(frame)
    assert frame["last_update_id"].unique().tolist() == [5123456789012]


def test_diff_depth_stream_is_refused_with_a_reason():
    with pytest.raises(ParseError, match="diff-depth stream must be rebuilt"):
        parse(parsers.parse_depth, "basana/basana_binance_depth_update.json", "btcusdt@depth@100ms")


def test_agg_trades_accept_numeric_strings_for_ids_and_times():
    frame = parse(parsers.parse_agg_trades, "ccxt/api_v3_aggTrades_BTCUSDT_limit1.json", "/api/v3/aggTrades")
    schemas.AggTrades.validate(frame)
    row = frame.iloc[0]
    assert row["agg_trade_id"] == 2913537567 and row["first_trade_id"] == 3479463557
    assert row["ts"] == pd.Timestamp(1710327661939, unit="ms")
    assert not row["is_buyer_maker"]


def test_ticker_24hr_from_ccxt_recording():
    frame = parse(parsers.parse_ticker_24hr, "ccxt/api_v3_ticker_24hr_BTCUSDT.json", "/api/v3/ticker/24hr")
    schemas.Ticker24h.validate(frame)
    assert frame["trade_count"].iloc[0] == 3187938
    assert frame["last_price"].iloc[0] == 73369.84


@pytest.mark.parametrize(("parser", "name", "endpoint", "model", "rows"), [
    (parsers.parse_premium_index, "documented/fapi_v1_premiumIndex_BTCUSDT.json", "/fapi/v1/premiumIndex",
     schemas.PremiumIndex, 1),
    (parsers.parse_funding_rate, "documented/fapi_v1_fundingRate_BTCUSDT.json", "/fapi/v1/fundingRate",
     schemas.FundingRate, 2),
    (parsers.parse_open_interest, "documented/futures_data_openInterestHist_BTCUSDT.json",
     "/futures/data/openInterestHist", schemas.OpenInterest, 2),
    (parsers.parse_long_short_ratio, "documented/futures_data_globalLongShortAccountRatio_BTCUSDT.json",
     "/futures/data/globalLongShortAccountRatio", schemas.LongShortRatio, 2),
    (parsers.parse_taker_volume, "documented/futures_data_takerlongshortRatio_BTCUSDT.json",
     "/futures/data/takerlongshortRatio", schemas.TakerVolume, 2),
    (parsers.parse_liquidations, "documented/ws_forceOrder_BTCUSDT.json", "!forceOrder@arr",
     schemas.Liquidations, 1),
    (parsers.parse_book_ticker, "documented/ws_bookTicker_BTCUSDT.json", "btcusdt@bookTicker",
     schemas.BookTicker, 1),
    (parsers.parse_book_ticker, "documented/api_v3_ticker_bookTicker_BTCUSDT.json",
     "/api/v3/ticker/bookTicker", schemas.BookTicker, 1),
    (parsers.parse_avg_price, "documented/api_v3_avgPrice_BTCUSDT_no_closetime.json", "/api/v3/avgPrice",
     schemas.AvgPrice, 1),
])
def test_documented_shapes_parse_into_valid_tables(parser, name, endpoint, model, rows):
    frame = parse(parser, name, endpoint)
    model.validate(frame)
    assert len(frame) == rows


def test_funding_rate_without_mark_price_keeps_a_null():
    legacy = "documented/fapi_v1_fundingRate_BTCUSDT_legacy_no_markprice.json"
    frame = parse(parsers.parse_funding_rate, legacy, "/fapi/v1/fundingRate")
    schemas.FundingRate.validate(frame)
    assert frame["mark_price"].isna().all()
    assert frame["funding_rate"].tolist() == [0.0001, 0.000312]


def test_futures_data_string_timestamps_become_utc_times():
    frame = parse(parsers.parse_open_interest, "documented/futures_data_openInterestHist_BTCUSDT.json",
                  "/futures/data/openInterestHist")
    assert frame["ts"].tolist() == [pd.Timestamp("2024-11-07 21:00"), pd.Timestamp("2024-11-07 22:00")]


def test_long_short_ratio_type_comes_from_the_endpoint():
    body = read("documented/futures_data_globalLongShortAccountRatio_BTCUSDT.json")
    frame = parsers.parse_long_short_ratio([body], ctx("/futures/data/topLongShortPositionRatio"))
    assert set(frame["ratio_type"]) == {"top_position"}


def test_liquidations_keep_only_the_partition_symbol():
    frame = parse(parsers.parse_liquidations, "documented/ws_forceOrder_BTCUSDT.json", "!forceOrder@arr",
                  key="ETHUSDT")
    assert frame.empty


def test_avg_price_without_close_time_uses_the_request_time():
    frame = parse(parsers.parse_avg_price, "documented/api_v3_avgPrice_BTCUSDT_no_closetime.json",
                  "/api/v3/avgPrice")
    assert frame["ts"].iloc[0] == pd.Timestamp(1_731_016_800_000, unit="ms")


@pytest.mark.parametrize("name", ["glassnode/glassnode-cli_metric_points.json",
                                  "glassnode/glassnode-api-node_timeseries-price-usd-close-btc.json"])
def test_glassnode_series(name):
    frame = parsers.parse_glassnode([read(name)], ctx("/v1/metrics/market/price_usd_close", key="BTC"))
    schemas.OnchainMetrics.validate(frame)
    assert set(frame["metric"]) == {"price_usd"}
    assert frame["ts"].dt.hour.eq(0).all()


def test_glassnode_multi_value_points_are_refused():
    with pytest.raises(ParseError, match="field 'v'"):
        parsers.parse_glassnode([read("glassnode/glassnode-api-go-client_timeseries-ssr-pit-btc.json")],
                                ctx("/v1/metrics/market/mvrv", key="BTC"))


def test_etf_flow_table_in_millions_with_parentheses_and_dashes():
    frame = parsers.parse_etf_flows([read("documented/farside_btc_etf_flow.csv")],
                                    ctx("farside/btc-etf-flow", key="ALL"))
    schemas.EtfFlows.validate(frame)
    first_day = frame[frame["ts"] == pd.Timestamp("2024-11-07")].set_index("fund")["net_flow_usd"]
    assert first_day["IBIT"] == pytest.approx(1_114.6e6)
    assert first_day["GBTC"] == pytest.approx(-30.5e6)
    assert np.isnan(first_day["BITB"])
    assert len(frame) == 8


def test_etf_total_that_disagrees_with_the_funds_is_an_error():
    body = "Date,IBIT,FBTC,Total\n07 Nov 2024,10.0,5.0,99.0\n"
    with pytest.raises(ParseError, match=r"field 'Total'.*disagrees"):
        parsers.parse_etf_flows([body], ctx("farside/btc-etf-flow", key="ALL"))


@pytest.mark.parametrize(("body", "message"), [
    ('[[1706630400000,"4351', "malformed JSON"),
    ('{"code":-1121,"msg":"Invalid symbol."}', "exchange error -1121: Invalid symbol."),
    ('[[1706630400000,"abc","1","1","1","1",1706633999999,"1",3,"1","1","0"]]', r"field 'open'.*'abc'"),
    ('[[1706630400000,"1","1"]]', "a kline has 12 fields"),
    ('{"not": "a list"}', "expected a JSON array"),
])
def test_bad_kline_bodies_name_the_field_and_reason(body, message):
    with pytest.raises(ParseError, match=message) as info:
        parsers.parse_klines([body], ctx("/api/v3/klines"))
    assert "/api/v3/klines" in str(info.value) and "BTCUSDT" in str(info.value)


def test_missing_field_is_named_with_the_row():
    with pytest.raises(ParseError, match=r"field 'fundingRate': missing in row 0"):
        parsers.parse_funding_rate(['[{"symbol":"BTCUSDT","fundingTime":1}]'], ctx("/fapi/v1/fundingRate"))


def test_microsecond_archive_timestamps_are_recognized():
    body = '[[1735689600000000,"1","1","1","1","1",1735693199999999,"1",3,"1","1","0"]]'
    frame = parsers.parse_klines([body], ctx("/api/v3/klines"))
    assert frame["ts"].iloc[0] == pd.Timestamp("2025-01-01 00:00")
    assert frame["close_time"].iloc[0] == pd.Timestamp("2025-01-01 00:59:59.999999")
