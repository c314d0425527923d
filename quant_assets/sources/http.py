"""What the network clients (Binance, Glassnode) share: secrets, config checks, headers."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from quant_assets.sources.base import SourceError

log = logging.getLogger(__name__)


class Secret:
    """A credential whose text is only reachable through :meth:`reveal`.

    ``repr``, ``str`` and f-strings print a mask, so a secret that ends up in a log
    line, an exception or Dagster metadata by accident shows nothing.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not value:
            raise ValueError("a secret cannot be empty")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('****')"

    __str__ = __repr__

    def __format__(self, _spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def require_valid(config: object, checks: Mapping[str, bool]) -> None:
    """Raise one :class:`SourceError` naming every field of ``config`` whose check failed."""
    bad = [name for name, ok in checks.items() if not ok]
    if bad:
        kind = type(config).__name__
        values = ", ".join(f"{name}={getattr(config, name)!r}" for name in bad)
        raise SourceError(f"{kind}: invalid {values} (see the {kind} docstring)")


def header_seconds(headers: Mapping[str, str], name: str) -> float | None:
    """Seconds in a header such as ``Retry-After`` (a number, or an HTTP date), None if absent.

    A value that is neither is logged and treated as absent: the caller then waits by its
    own backoff, which is the safe choice when a server's hint cannot be read.
    """
    value = headers.get(name)
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            log.warning("ignoring unreadable %s header %r; using the client's own backoff", name, value)
            return None
    return max(seconds, 0.0)
