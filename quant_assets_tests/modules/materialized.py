"""The days, symbols and runs of the tests that materialize the ten modules (see conftest)."""

from collections.abc import Callable
from datetime import date, timedelta

from quant_assets.automation.jobs import MODULES_BARS_JOB, MODULES_DAILY_JOB, MODULES_TICKS_JOB
from quant_assets.modules.engine import TICK_HISTORY

SYMBOLS = ("BTCUSDT", "ETHUSDT")
DAYS = (date(2026, 10, 3), date(2026, 10, 4), date(2026, 10, 5))
#: Bars from 64 days before the first scored day: more than any bar-frame history.
FIRST = DAYS[0] - timedelta(days=64)
TICKS_FIRST = DAYS[0] - timedelta(days=TICK_HISTORY.days + 3)


def run_modules(run: Callable[[str, str, str], None], first: date, last: date) -> None:
    """Every module over the days ``first..last``: one range run per job, all symbols."""
    for job in (MODULES_BARS_JOB, MODULES_TICKS_JOB):
        run(job, f"{first}|{SYMBOLS[0]}", f"{last}|{SYMBOLS[-1]}")
    run(MODULES_DAILY_JOB, first.isoformat(), last.isoformat())
