"""The symbol-listing sensor: new USDⓈ-M perpetuals are proposed once, or added when configured."""

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from quant_assets.automation.alerts import WEBHOOK_VARIABLE
from quant_assets.automation.listing_sensor import SENSOR_NAME
from quant_assets.definitions import build_definitions
from quant_assets.resources import build_resources
from quant_assets.settings import SettingsError, load_settings
from quant_assets.sources.listings import ListingError, usdm_perpetuals

EXCHANGE_INFO = Path(__file__).parents[1] / "fixtures" / "documented" / "fapi_v1_exchangeInfo.json"


def test_only_trading_perpetuals_with_a_stablecoin_quote_are_listed():
    listings = usdm_perpetuals(EXCHANGE_INFO.read_text(), "documented exchangeInfo")
    assert [(item.symbol, item.quote_asset) for item in listings] == [("BTCUSDT", "USDT"),
                                                                      ("ETHUSDC", "USDC")]
    assert str(listings[0].onboard) == "2019-09-25"


@pytest.mark.parametrize(("body", "message"), [
    ("<html>", "exchangeInfo: not JSON"),
    ('{"rateLimits": []}', "field 'symbols' is missing"),
    ('{"symbols": [{"symbol": "XUSDT", "contractType": "PERPETUAL", "status": "TRADING", "baseAsset": "X", '
     '"quoteAsset": "USDT", "onboardDate": "soon"}]}',
     r"symbols\[0\].onboardDate is 'soon', expected an integer"),
])
def test_a_malformed_listing_names_the_entry_and_field(body, message):
    with pytest.raises(ListingError, match=message):
        usdm_perpetuals(body, "binance /fapi/v1/exchangeInfo")


def tick(settings, instance, clock: str, cursor=None):
    defs = build_definitions(settings)
    sensor = defs.resolve_sensor_def(SENSOR_NAME)
    source = build_resources(settings, clock)["market_source"]
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"market_source": source})
    return sensor(context)


def listings_table(settings) -> list[tuple]:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        return connection.execute("select symbol, status, onboard_date::varchar from symbol_listings "
                                  "order by symbol").fetchall()


def test_new_perpetuals_are_proposed_once_and_delisted_symbols_warned(tmp_path, caplog):
    settings = load_settings({"QUANT_DATA_DIR": str(tmp_path), "QUANT_SYMBOLS": "BTCUSDT,ETHUSDT,LUNAUSDT"})
    with dg.DagsterInstance.ephemeral() as instance:
        before = tick(settings, instance, "2024-01-02T00:00")  # DOGE and AVAX are not listed yet
        assert "new proposed: BNBUSDT, SOLUSDT, XRPUSDT" in before.skip_message
        assert "not listed any more: LUNAUSDT" in before.skip_message  # settling, not trading
        later = tick(settings, instance, "2026-11-21T08:00")
        assert "2 new proposed: AVAXUSDT, DOGEUSDT" in later.skip_message
        again = tick(settings, instance, "2026-11-21T14:00")
        assert "0 new proposed" in again.skip_message
    assert listings_table(settings) == [
        ("AVAXUSDT", "proposed", "2025-02-17"), ("BNBUSDT", "proposed", "2020-02-10"),
        ("DOGEUSDT", "proposed", "2024-06-03"), ("SOLUSDT", "proposed", "2020-09-14"),
        ("XRPUSDT", "proposed", "2020-01-06")]
    assert not settings.added_symbols_file.exists(), "proposals change nothing"


def test_with_auto_add_a_new_perpetual_becomes_partitioned_at_the_next_load(tmp_path, webhook, monkeypatch):
    monkeypatch.setenv(WEBHOOK_VARIABLE, webhook.url)
    env = {"QUANT_DATA_DIR": str(tmp_path), "QUANT_SYMBOLS_AUTO_ADD": "true",
           "QUANT_SYMBOLS": "BTCUSDT,ETHUSDT,SOLUSDT,BNBUSDT,XRPUSDT,AVAXUSDT"}
    settings = load_settings(env)
    with dg.DagsterInstance.ephemeral() as instance:
        result = tick(settings, instance, "2026-11-21T08:00")
    assert "1 new added: DOGEUSDT; 1 notified" in result.skip_message
    assert listings_table(settings) == [("DOGEUSDT", "added", "2024-06-03")]
    assert settings.added_symbols_file.read_text() == "DOGEUSDT\n"
    [posted] = webhook.received
    assert "new USDⓈ-M perpetual DOGEUSDT (DOGE/USDT, listed 2024-06-03) added" in posted["json"]["text"]

    reloaded = load_settings(env)
    assert reloaded.symbols[-1] == "DOGEUSDT"
    symbols = build_definitions(reloaded).resolve_assets_def(dg.AssetKey(["raw", "spot_klines"])) \
        .partitions_def.get_partitions_def_for_dimension("symbol").get_partition_keys()
    assert "DOGEUSDT" in symbols


def test_a_bad_line_in_the_added_symbols_file_is_named(tmp_path):
    (tmp_path / "symbols.added").write_text("DOGEUSDT\ndoge\n")
    with pytest.raises(SettingsError, match=r"symbols.added line 2='doge'"):
        load_settings({"QUANT_DATA_DIR": str(tmp_path)})
