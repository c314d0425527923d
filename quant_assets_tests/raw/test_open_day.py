"""Today's open partition: which rows of a payload received before its day closed are final,
and which periods the gap check expects by the run's time."""

import json
from datetime import date, datetime

import pandas as pd

from quant_assets.days import closed_until
from quant_assets.raw.assets import final_rows
from quant_assets.raw.families import FAMILIES_BY_NAME
from quant_assets.raw.parsers import parse_payload
from quant_assets.settings import load_settings
from quant_assets.sources.base import Payload, Request

DAY = date(2026, 11, 20)
SETTINGS = load_settings({})
HOUR_MS = 3_600_000
DAY_MS = 1_795_132_800_000  # 2026-11-20 00:00 UTC


def klines_payload(received_ms: int, hours: int) -> Payload:
    """Binance kline rows as served: the last one is the open candle when received mid-hour."""
    rows = [[DAY_MS + h * HOUR_MS, "10.0", "11.0", "9.0", "10.5", "1.0", DAY_MS + (h + 1) * HOUR_MS - 1,
             "10.5", 3, "0.5", "5.25", "0"] for h in range(hours)]
    request = Request.of("/api/v3/klines", symbol="BTCUSDT", interval="1h", startTime=DAY_MS,
                         endTime=DAY_MS + 24 * HOUR_MS - 1, limit=1000)
    return Payload(request, (json.dumps(rows),), received_ms, "rest", "binance")


def test_the_open_candle_served_mid_day_is_not_stored_and_closed_days_are_untouched():
    family = FAMILIES_BY_NAME["spot_klines"]
    mid_day = klines_payload(DAY_MS + 10 * HOUR_MS + 17 * 60_000, 11)  # 10:17: 10:00 still open
    rows = final_rows(family, parse_payload(family.name, family.parser, mid_day, "BTCUSDT"), mid_day, DAY,
                      SETTINGS)
    assert list(rows["ts"].dt.hour) == list(range(10))
    closed = klines_payload(DAY_MS + 24 * HOUR_MS + 60_000, 24)
    parsed = parse_payload(family.name, family.parser, closed, "BTCUSDT")
    assert final_rows(family, parsed, closed, DAY, SETTINGS) is parsed


def test_the_gap_check_expects_the_periods_closed_by_the_run():
    at = datetime(2026, 11, 20, 10, 17)
    [klines] = FAMILIES_BY_NAME["spot_klines"].expected_grid("BTCUSDT", DAY, SETTINGS, at).values()
    assert list(klines.hour) == list(range(10))
    [premium] = FAMILIES_BY_NAME["premium_index"].expected_grid("BTCUSDT", DAY, SETTINGS, at).values()
    assert premium[-1] == pd.Timestamp("2026-11-20 09:00")  # the 10:00 poll's hour is still running
    # Recorded streams land hour files when the hour ends: the 10:00 file is not there at 10:17.
    [depth] = FAMILIES_BY_NAME["depth_snapshots"].expected_grid("BTCUSDT", DAY, SETTINGS, at).values()
    assert depth[-1] == pd.Timestamp("2026-11-20 09:55")
    funding = FAMILIES_BY_NAME["funding_rate"].expected_grid("BTCUSDT", DAY, SETTINGS, at)
    assert list(funding[("BTCUSDT",)]) == [pd.Timestamp("2026-11-20")]  # 08:00's 8h period runs
    [whole] = FAMILIES_BY_NAME["spot_klines"].expected_grid("BTCUSDT", DAY, SETTINGS,
                                                            datetime(2026, 11, 21, 0, 5)).values()
    assert len(whole) == 24


def test_closed_until_floors_an_open_day_and_keeps_a_closed_one_whole():
    hour = pd.Timedelta(hours=1)
    assert closed_until(DAY, datetime(2026, 11, 20, 10, 17), hour) == pd.Timestamp("2026-11-20 10:00")
    assert closed_until(DAY, datetime(2026, 11, 20, 0, 5), hour) == pd.Timestamp("2026-11-20")
    assert closed_until(DAY, datetime(2026, 11, 25), hour) == pd.Timestamp("2026-11-21")
    assert closed_until(DAY, datetime(2026, 11, 20, 13, 0), pd.Timedelta(hours=4)) == pd.Timestamp(
        "2026-11-20 12:00")
