"""New USDⓈ-M perpetuals on the source are proposed, or added when configured to.

The ``symbol_listings`` sensor reads the source's futures listing (``exchangeInfo``) a few
times a day. Every trading perpetual with a stablecoin quote that is neither configured
(``QUANT_SYMBOLS``) nor seen before becomes a row of the DuckDB ``symbol_listings``
table and a log line, and, when ``QUANT_ALERT_WEBHOOK`` is set, a POST (the table is the
outbox, as for check alerts).

- ``status = 'proposed'`` by default: a person decides (add it to ``QUANT_SYMBOLS``).
- With ``QUANT_SYMBOLS_AUTO_ADD=true`` it is ``'added'`` and appended to
  ``<QUANT_DATA_DIR>/symbols.added``. The settings read that file after
  ``QUANT_SYMBOLS``, so the symbol's partitions exist from the next load of the code
  location (Reload in the UI, or a restart). From then on the schedules fetch it, and
  ``quant-assets backfill --symbols`` fills its history.

Configured symbols missing from the listing (delisted, settling) are logged as warnings.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import dagster as dg
import duckdb

from quant_assets.automation.alerts import WEBHOOK_VARIABLE, post_webhook
from quant_assets.days import utc_now
from quant_assets.resources.market import MarketSourceResource
from quant_assets.settings import Settings
from quant_assets.sources.listings import Listing

SENSOR_NAME = "symbol_listings"
LISTINGS_TABLE = """
create table if not exists symbol_listings (
    symbol VARCHAR PRIMARY KEY,
    base_asset VARCHAR, quote_asset VARCHAR,
    onboard_date DATE,              -- the exchange's onboardDate
    first_seen_at TIMESTAMP,        -- naive UTC
    status VARCHAR,                 -- 'proposed' or 'added'
    notified_at TIMESTAMP           -- webhook POST accepted; NULL: not sent (or no webhook)
)"""


def listing_text(listing: Listing, status: str) -> str:
    action = ("added to the symbols (partitioned from the next code-location load)" if status == "added"
              else "proposed: add it to QUANT_SYMBOLS to ingest it")
    return (f"quant_assets LISTING: new USDⓈ-M perpetual {listing.symbol} ({listing.base_asset}/"
            f"{listing.quote_asset}, listed {listing.onboard}) {action}")


def record_new_listings(database: str, listings: Sequence[Listing], configured: Sequence[str],
                        status: str, now: datetime) -> list[Listing]:
    """Insert the listings neither configured nor recorded before; returns them."""
    with duckdb.connect(database) as connection:
        connection.execute(LISTINGS_TABLE)
        known = {row[0] for row in connection.execute("select symbol from symbol_listings").fetchall()}
        new = [item for item in listings if item.symbol not in known and item.symbol not in configured]
        if new:
            connection.executemany("insert into symbol_listings values (?, ?, ?, ?, ?, ?, null)", [
                [item.symbol, item.base_asset, item.quote_asset, item.onboard, now, status] for item in new])
    return new


def notify(database: str, url: str, backoff: float = 1.0) -> int:
    """POST every listing not notified yet, oldest first; raises (keeping the rest) on refusal."""
    with duckdb.connect(database) as connection:
        connection.execute(LISTINGS_TABLE)
        rows = connection.execute("select symbol, base_asset, quote_asset, onboard_date, status "
                                  "from symbol_listings where notified_at is null "
                                  "order by first_seen_at, symbol").fetchall()
        sent = 0
        for symbol, base, quote, onboard, status in rows:
            post_webhook(url, listing_text(Listing(symbol, base, quote, onboard), status), backoff=backoff)
            connection.execute("update symbol_listings set notified_at = ? where symbol = ?",
                               [utc_now(), symbol])
            sent += 1
    return sent


def append_added(path: Path, symbols: Sequence[str]) -> None:
    """Add ``symbols`` to the added-symbols file (created when missing), one per line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        handle.writelines(f"{symbol}\n" for symbol in symbols)


def build_listing_sensor(settings: Settings, minimum_interval_seconds: int = 6 * 3600) -> dg.SensorDefinition:
    database = str(settings.duckdb_path)

    @dg.sensor(name=SENSOR_NAME, minimum_interval_seconds=minimum_interval_seconds,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="New USDⓈ-M perpetuals on the source: proposed in the DuckDB `symbol_listings` "
                           "table (added to the symbols with QUANT_SYMBOLS_AUTO_ADD=true).")
    def symbol_listings(context: dg.SensorEvaluationContext, market_source: MarketSourceResource):
        source = market_source.get_source()
        lister = getattr(source, "perpetual_listings", None)
        if lister is None:
            return dg.SkipReason(f"the {source.name} source has no listing of perpetual symbols")
        listings = lister()
        status = "added" if settings.auto_add_symbols else "proposed"
        new = record_new_listings(database, listings, settings.symbols, status, market_source.now())
        if status == "added" and new:
            append_added(settings.added_symbols_file, [item.symbol for item in new])
        for item in new:
            context.log.info(listing_text(item, status))
        listed = {item.symbol for item in listings}
        gone = [symbol for symbol in settings.symbols if symbol not in listed]
        if gone:
            context.log.warning(f"configured symbol(s) {', '.join(gone)} are not trading USDⓈ-M perpetuals "
                                f"on the {source.name} source any more")
        url = os.environ.get(WEBHOOK_VARIABLE, "").strip()
        notified = notify(database, url) if url else 0  # a refusal fails the tick, the rest wait
        return dg.SkipReason(f"{len(listings)} perpetual(s) listed; {len(new)} new {status}"
                             + (f": {', '.join(item.symbol for item in new)}" if new else "")
                             + f"; {notified} notified"
                             + (f"; not listed any more: {', '.join(gone)}" if gone else ""))

    return symbol_listings
