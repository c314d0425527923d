"""Small archive trees written by the tests: ZIPs of CSVs in the documented formats, with checksums.

The CSV contents are written here from the documented column layouts
(binance/binance-public-data README; ``shared/fixtures/BINANCE_API_FACTS.md`` section 6),
with invented numbers: spot kline files without a header, millisecond times before
2025 and microsecond times from 2025-01-01; USDⓈ-M files with a header row.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal

HOUR_MS = 3_600_000
KLINE_HEADER = ("open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,"
                "taker_buy_quote_volume,ignore")
AGG_TRADES_HEADER = "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker"
FUNDING_HEADER = "calc_time,funding_interval_hours,last_funding_rate"
METRICS_HEADER = ("create_time,symbol,sum_open_interest,sum_open_interest_value,"
                  "count_toptrader_long_short_ratio,sum_toptrader_long_short_ratio,count_long_short_ratio,"
                  "sum_taker_long_short_vol_ratio")

Checksum = Literal["valid", "wrong", "missing", "other_file"]


def day_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1000


def zip_bytes(member: str, text: str) -> bytes:
    """A ZIP holding one CSV, byte-for-byte reproducible (fixed member time)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo(member, date_time=(2024, 1, 1, 0, 0, 0)), text)
    return buffer.getvalue()


def checksum_text(data: bytes, name: str) -> str:
    return f"{hashlib.sha256(data).hexdigest()}  {name}\n"


def put_zip(root: Path, relative: str, data: bytes, checksum: Checksum = "valid") -> Path:
    """Write ZIP bytes at ``root/relative`` with a ``.CHECKSUM`` as asked."""
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    sidecar = path.with_name(path.name + ".CHECKSUM")
    if checksum == "valid":
        sidecar.write_text(checksum_text(data, path.name))
    elif checksum == "wrong":
        sidecar.write_text(checksum_text(data + b"x", path.name))
    elif checksum == "other_file":
        sidecar.write_text(checksum_text(data, "BTCUSDT-1h-1999-01-01.zip"))
    return path


def put_csv(root: Path, relative: str, text: str, checksum: Checksum = "valid") -> Path:
    """Write ``text`` as the one CSV of a ZIP at ``root/relative`` (member named like the archive's)."""
    member = Path(relative).name.removesuffix(".zip") + ".csv"
    return put_zip(root, relative, zip_bytes(member, text), checksum)


def kline_csv(day: date, hours: int = 24, micro: bool = False, header: bool = False,
              price: float = 100.0) -> str:
    """Hourly candles from midnight of ``day``; times in ms, or µs as in 2025+ spot files."""
    unit = 1000 if micro else 1
    lines = [KLINE_HEADER] if header else []
    for h in range(hours):
        open_ms = day_ms(day) + h * HOUR_MS
        o, c = price + h, price + h + 0.5
        lines.append(f"{open_ms * unit},{o:.8f},{c + 1:.8f},{o - 1:.8f},{c:.8f},{10 + h:.8f},"
                     f"{(open_ms + HOUR_MS) * unit - 1},{(10 + h) * o:.8f},{100 + h},{5 + h / 2:.8f},"
                     f"{(5 + h / 2) * o:.8f},0")
    return "\n".join(lines) + "\n"


def metrics_csv(day: date, symbol: str = "BTCUSDT", steps: int = 12) -> str:
    """Five-minute metrics rows from midnight, create_time as the archive writes it."""
    lines = [METRICS_HEADER]
    for k in range(steps):
        moment = datetime.fromtimestamp(day_ms(day) / 1000 + k * 300, UTC)
        lines.append(f"{moment:%Y-%m-%d %H:%M:%S},{symbol},{80000 + k}.125,{(80000 + k) * 42000}.5,"
                     f"1.{k:02d}000000,2.50000000,0.{k + 10}000000,0.97524002")
    return "\n".join(lines) + "\n"
