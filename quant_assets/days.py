"""UTC days and how much of one has closed: shared by the raw checks and the modules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd


def day_end(day: date) -> datetime:
    """Midnight UTC (naive) after ``day``: when the day closes."""
    return datetime(day.year, day.month, day.day) + timedelta(days=1)


def closed_until(day: date, as_of: datetime, step: pd.Timedelta) -> pd.Timestamp:
    """End of the part of ``day`` made of ``step`` periods that have all ended by ``as_of``.

    The day's end once the day has closed; before that, ``as_of`` floored to ``step``
    (so an open candle or an unfinished polling interval is never counted as there).
    """
    end = pd.Timestamp(day_end(day))
    now = pd.Timestamp(as_of)
    return end if now >= end else max(now.floor(step), pd.Timestamp(day))


def utc_now() -> datetime:
    """The current UTC time, naive (the platform's time stamps are naive UTC)."""
    return datetime.now(UTC).replace(tzinfo=None)


def moment_or_now(text: str, name: str) -> datetime:
    """The ISO date-time ``text`` as naive UTC (an offset is converted), or now when empty;
    ``name`` (the setting it came from) is named when the text is not a date-time."""
    if not text.strip():
        return utc_now()
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValueError(f"{name}={text!r}: not an ISO date-time (e.g. 2026-11-21T10:30)") from exc
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
