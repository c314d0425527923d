"""Each data-quality check fails on its planted defect and names the offending rows."""

import pandas as pd
import pytest

from quant_assets.raw import checks, schemas


def candles(n: int = 24, start: str = "2026-11-10") -> pd.DataFrame:
    ts = pd.date_range(start, periods=n, freq="h").astype("datetime64[us]")
    close = 100 + pd.Series(range(n), dtype=float)
    return pd.DataFrame({
        "ts": ts, "symbol": "BTCUSDT", "open": close - 0.5, "high": close + 1, "low": close - 1,
        "close": close, "volume": 10.0, "close_time": ts + pd.Timedelta(minutes=59, seconds=59),
        "quote_volume": 1000.0, "trade_count": 5, "taker_buy_base_volume": 4.0,
        "taker_buy_quote_volume": 400.0,
    })


def hourly_grid(day: str = "2026-11-10") -> dict[tuple, pd.DatetimeIndex]:
    return {("BTCUSDT",): pd.date_range(day, periods=24, freq="h")}


def test_clean_candles_pass_every_check():
    frame = candles()
    assert checks.check_schema(frame, schemas.Klines).passed
    assert checks.check_unique_keys(frame, ["ts", "symbol"]).passed
    assert checks.check_time_grid(frame, hourly_grid(), ["symbol"], None).passed
    assert checks.check_monotonic_time(frame, ["symbol"]).passed
    assert checks.check_ohlc(frame).passed
    assert checks.check_price_jumps(frame, 0.15).passed


def test_gap_names_the_missing_timestamps():
    frame = candles().drop(index=[5, 6]).reset_index(drop=True)
    outcome = checks.check_time_grid(frame, hourly_grid(), ["symbol"], None)
    assert not outcome.passed and outcome.severity == "ERROR"
    assert "2 expected timestamp(s) missing" in outcome.description
    assert "BTCUSDT 2026-11-10 05:00:00" in outcome.description
    assert "BTCUSDT 2026-11-10 06:00:00" in outcome.description


def test_bucketed_grid_accepts_irregular_snapshots_but_not_an_empty_hour():
    frame = candles()
    frame["ts"] = frame["ts"] + pd.Timedelta(seconds=17)
    assert checks.check_time_grid(frame, hourly_grid(), ["symbol"], pd.Timedelta("1h")).passed
    outcome = checks.check_time_grid(frame.drop(index=[3]), hourly_grid(), ["symbol"], pd.Timedelta("1h"))
    assert not outcome.passed and "2026-11-10 03:00:00" in outcome.description


def test_duplicate_names_the_key_and_count():
    frame = pd.concat([candles(), candles().iloc[[7]]], ignore_index=True)
    outcome = checks.check_unique_keys(frame, ["ts", "symbol"])
    assert not outcome.passed
    assert "(2026-11-10 07:00:00, symbol=BTCUSDT) ×2" in outcome.description


def test_time_going_backwards_names_the_row():
    frame = candles()
    frame.loc[[10, 11], "ts"] = frame.loc[[11, 10], "ts"].to_numpy()
    outcome = checks.check_monotonic_time(frame, ["symbol"])
    assert not outcome.passed
    assert "row 11 at 2026-11-10 10:00:00 after 2026-11-10 11:00:00" in outcome.description


def test_ohlc_violation_names_the_candle_and_the_reason():
    frame = candles()
    frame.loc[4, "low"] = frame.loc[4, "open"] + 0.25
    frame.loc[9, "volume"] = -1.0
    outcome = checks.check_ohlc(frame)
    assert not outcome.passed
    assert "2026-11-10 04:00:00 BTCUSDT: low above open/close" in outcome.description
    assert "2026-11-10 09:00:00 BTCUSDT: negative volume" in outcome.description


def test_price_jump_is_a_warning_with_the_return():
    frame = candles()
    frame.loc[12:, ["open", "high", "low", "close"]] *= 1.3
    outcome = checks.check_price_jumps(frame, 0.15)
    assert not outcome.passed and outcome.severity == "WARN"
    assert "BTCUSDT 2026-11-10 12:00:00: +0.2713" in outcome.description


def test_funding_rate_out_of_bounds():
    frame = pd.DataFrame({"ts": pd.to_datetime(["2026-11-10 00:00", "2026-11-10 08:00"]),
                          "funding_rate": [0.0001, 0.05]})
    outcome = checks.check_funding_bounds(frame, 0.03)
    assert not outcome.passed and "2026-11-10 08:00:00: 0.05" in outcome.description


def test_crossed_book_ticker_names_the_time():
    frame = pd.DataFrame({"ts": pd.to_datetime(["2026-11-10 00:00:10", "2026-11-10 00:00:20"]),
                          "bid_price": [100.0, 100.2], "ask_price": [100.1, 100.1]})
    outcome = checks.check_uncrossed_book(frame)
    assert not outcome.passed and "2026-11-10 00:00:20: bid 100.2 ≥ ask 100.1" in outcome.description


def depth(bid1: float = 99.9, bid2: float = 99.8) -> pd.DataFrame:
    ts = pd.Timestamp("2026-11-10 00:01")
    return pd.DataFrame({
        "ts": [ts] * 4, "symbol": "BTCUSDT", "last_update_id": [7] * 4,
        "side": ["bid", "bid", "ask", "ask"], "level": [1, 2, 1, 2],
        "price": [bid1, bid2, 100.0, 100.1], "qty": [1.0] * 4,
    })


def test_depth_checks_crossing_and_ladder_order():
    assert checks.check_uncrossed_book(depth()).passed
    crossed = checks.check_uncrossed_book(depth(bid1=100.05))
    assert not crossed.passed and "bid 100.05 ≥ ask 100.0" in crossed.description
    disordered = checks.check_uncrossed_book(depth(bid2=99.95))
    assert not disordered.passed and "bid level 2 at 99.95 out of order" in disordered.description


def test_depth_books_of_several_symbols_with_the_same_update_id_are_checked_apart():
    """A range run over several symbols holds each one's books; update ids are per symbol."""
    eth = depth().assign(symbol="ETHUSDT", price=[3999.9, 3999.8, 4000.0, 4000.1])
    both = pd.concat([depth(), eth], ignore_index=True)
    assert checks.check_uncrossed_book(both).passed
    disordered = pd.concat([depth(bid2=99.95), eth], ignore_index=True)
    outcome = checks.check_uncrossed_book(disordered)
    assert not outcome.passed and outcome.metadata["crossed"] == 1
    assert "BTCUSDT 2026-11-10 00:01:00 (update 7): bid level 2 at 99.95 out of order" in outcome.description


def test_missing_trade_ids_are_listed_as_ranges():
    frame = pd.DataFrame({"symbol": "BTCUSDT", "agg_trade_id": [1, 2, 3, 7, 8, 10]})
    outcome = checks.check_id_sequence(frame, "agg_trade_id")
    assert not outcome.passed
    assert "4 agg_trade_id(s) missing in 2 hole(s): BTCUSDT 4…6, BTCUSDT 9" in outcome.description


def test_rows_outside_the_partition_window():
    outcome = checks.check_in_window(candles(start="2026-11-09 23:00"), pd.Timestamp("2026-11-10"),
                                     pd.Timestamp("2026-11-11"))
    assert not outcome.passed and "2026-11-09 23:00:00" in outcome.description


def test_schema_violations_are_listed():
    frame = candles()
    frame.loc[2, "close"] = -5.0
    outcome = checks.check_schema(frame, schemas.Klines)
    assert not outcome.passed and "close: greater_than(0) failed for -5.0 at row 2" in outcome.description


@pytest.mark.parametrize("rows", [3, 25])
def test_long_listings_are_truncated(rows):
    frame = candles().iloc[rows:]
    outcome = checks.check_time_grid(frame, hourly_grid(), ["symbol"], None)
    expected_more = rows > checks.MAX_LISTED
    assert ("more" in outcome.description) == expected_more
