"""Environment-driven settings: which source, which symbols, where data lives.

Every setting comes from an environment variable with a documented default (see
the settings table in the README). Values are validated when the code location
loads; an invalid value raises :class:`SettingsError` naming the variable, the
value and what would be accepted.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

SourceName = Literal["simulated", "binance", "archive"]
SOURCES: tuple[SourceName, ...] = ("simulated", "binance", "archive")

#: Kline intervals that divide a UTC day, so a daily partition holds whole bars.
KLINE_INTERVAL_MINUTES: dict[str, int] = {
    "1m": 1, "3m": 3, "5m": 5, "15m": 15, "30m": 30,
    "1h": 60, "2h": 120, "4h": 240, "6h": 360, "8h": 480, "12h": 720, "1d": 1440,
}

DEFAULT_SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT")
DEFAULT_START_DATE = date(2024, 1, 1)
_SYMBOL_PATTERN = re.compile(r"^[A-Z0-9]{2,20}(USDT|USDC|BUSD|FDUSD)$")


class SettingsError(ValueError):
    """An environment variable holds a value the platform cannot use."""

    def __init__(self, variable: str, value: str, reason: str) -> None:
        super().__init__(f"{variable}={value!r}: {reason}")
        self.variable = variable


@dataclass(frozen=True)
class Settings:
    """Validated platform settings; build with :func:`load_settings`."""

    source: SourceName
    symbols: tuple[str, ...]
    duckdb_path: Path
    start_date: date
    kline_interval: str
    data_dir: Path
    dagster_home: Path
    simulation_seed: int
    workers: int = 1
    auto_add_symbols: bool = False

    @property
    def added_symbols_file(self) -> Path:
        """Symbols the listing sensor added (``QUANT_SYMBOLS_AUTO_ADD``), one per line."""
        return added_symbols_file(self.data_dir)

    @property
    def landing_dir(self) -> Path:
        """Folder of the landing zone, where raw responses are kept before parsing."""
        return self.data_dir / "landing"

    @property
    def kline_minutes(self) -> int:
        return KLINE_INTERVAL_MINUTES[self.kline_interval]


def _parse_source(value: str) -> SourceName:
    if value not in SOURCES:
        raise SettingsError("QUANT_SOURCE", value, f"must be one of {', '.join(SOURCES)}")
    return value  # type: ignore[return-value]


def _parse_symbols(value: str) -> tuple[str, ...]:
    symbols = [part.strip() for part in value.split(",") if part.strip()]
    if not symbols:
        raise SettingsError("QUANT_SYMBOLS", value, "needs at least one symbol")
    for symbol in symbols:
        if not _SYMBOL_PATTERN.match(symbol):
            raise SettingsError(
                "QUANT_SYMBOLS",
                value,
                f"{symbol!r} is not an upper-case exchange symbol with a stablecoin quote "
                "(for example BTCUSDT)",
            )
    if len(set(symbols)) != len(symbols):
        raise SettingsError("QUANT_SYMBOLS", value, "lists a symbol twice")
    return tuple(symbols)


def _parse_start_date(value: str) -> date:
    try:
        parsed = date.fromisoformat(value)
    except ValueError as exc:
        raise SettingsError("QUANT_START_DATE", value, "must be an ISO date (YYYY-MM-DD)") from exc
    if parsed < date(2017, 7, 14):
        raise SettingsError("QUANT_START_DATE", value, "is before the exchange's first trade day")
    if parsed >= date.today():
        raise SettingsError("QUANT_START_DATE", value, "must be in the past")
    return parsed


def _parse_interval(value: str) -> str:
    if value not in KLINE_INTERVAL_MINUTES:
        raise SettingsError(
            "QUANT_KLINE_INTERVAL",
            value,
            f"must be an interval that divides a day: {', '.join(KLINE_INTERVAL_MINUTES)}",
        )
    return value


def _parse_seed(value: str) -> int:
    if not value.isdigit():
        raise SettingsError("QUANT_SIM_SEED", value, "must be a non-negative integer")
    return int(value)


def _parse_workers(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 64:
        raise SettingsError("QUANT_WORKERS", value, "must be an integer from 1 to 64")
    return int(value)


def _parse_flag(variable: str, value: str) -> bool:
    if value.strip().lower() not in ("true", "false", "1", "0", "yes", "no"):
        raise SettingsError(variable, value, "must be true or false")
    return value.strip().lower() in ("true", "1", "yes")


def added_symbols_file(data_dir: Path) -> Path:
    return data_dir / "symbols.added"


def _with_added_symbols(symbols: tuple[str, ...], data_dir: Path) -> tuple[str, ...]:
    """``QUANT_SYMBOLS`` followed by the symbols the listing sensor added, if any."""
    path = added_symbols_file(data_dir)
    if not path.exists():
        return symbols
    added = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    for number, symbol in enumerate(added, start=1):
        if not _SYMBOL_PATTERN.match(symbol):
            raise SettingsError(f"{path} line {number}", symbol, "is not an upper-case exchange symbol "
                                "with a stablecoin quote")
    return symbols + tuple(dict.fromkeys(s for s in added if s not in symbols))


def _parse_path(variable: str, value: str) -> Path:
    if not value.strip():
        raise SettingsError(variable, value, "must be a path")
    return Path(value).expanduser().resolve()


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the settings from ``env`` (the process environment by default)."""
    env = os.environ if env is None else env
    data_dir = _parse_path("QUANT_DATA_DIR", env.get("QUANT_DATA_DIR", "data"))
    duckdb_path = _parse_path(
        "QUANT_DUCKDB_PATH", env.get("QUANT_DUCKDB_PATH", str(data_dir / "quant.duckdb"))
    )
    if duckdb_path.suffix != ".duckdb":
        raise SettingsError("QUANT_DUCKDB_PATH", str(duckdb_path), "must end in .duckdb")
    return Settings(
        source=_parse_source(env.get("QUANT_SOURCE", "simulated")),
        symbols=_with_added_symbols(_parse_symbols(env.get("QUANT_SYMBOLS", ",".join(DEFAULT_SYMBOLS))),
                                    data_dir),
        duckdb_path=duckdb_path,
        start_date=_parse_start_date(env.get("QUANT_START_DATE", DEFAULT_START_DATE.isoformat())),
        kline_interval=_parse_interval(env.get("QUANT_KLINE_INTERVAL", "1h")),
        data_dir=data_dir,
        dagster_home=_parse_path(
            "DAGSTER_HOME", env.get("DAGSTER_HOME", str(data_dir / "dagster_home"))
        ),
        simulation_seed=_parse_seed(env.get("QUANT_SIM_SEED", "20240101")),
        workers=_parse_workers(env.get("QUANT_WORKERS", str(min(os.cpu_count() or 1, 8)))),
        auto_add_symbols=_parse_flag("QUANT_SYMBOLS_AUTO_ADD", env.get("QUANT_SYMBOLS_AUTO_ADD", "false")),
    )
