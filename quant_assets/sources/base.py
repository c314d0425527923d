"""The one interface every market-data source implements.

A source answers "give me the raw responses of endpoint family F for key K on day D"
with :class:`Payload` objects: the request as it was (or would be) sent and the
response bodies exactly as served, text untouched. Parsing happens later, in
``raw/``, so the landing zone can keep the bytes and anything can be re-parsed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal, Protocol

#: rest: a history request (same request, same answer); snapshot: a poll of current state
#: (identity includes the time); stream: one recorded hour of a websocket stream.
PayloadKind = Literal["rest", "snapshot", "stream"]


class SourceError(RuntimeError):
    """A source could not deliver what was asked; the message says which request and why.

    ``retryable`` says whether running again later may succeed (a server error, a rate
    limit); a configuration problem, bad credentials or data that does not exist is not.
    """

    retryable: bool = False


class DataUnavailableError(SourceError):
    """The source does not hold data for this key and day (future, before history, retired)."""


@dataclass(frozen=True)
class Request:
    """An endpoint path (or stream name) with its parameters, in a stable order."""

    endpoint: str
    params: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, endpoint: str, **params: object) -> Request:
        return cls(endpoint, tuple((k, str(v)) for k, v in params.items()))

    def param(self, name: str) -> str | None:
        return dict(self.params).get(name)

    def slug(self) -> str:
        """File-name-safe identity of the request (endpoint + hash of its parameters)."""
        text = self.endpoint + "?" + "&".join(f"{k}={v}" for k, v in self.params)
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        stem = self.endpoint.strip("/").replace("/", "_").replace("@", "_").replace("!", "")
        return f"{stem}__{digest}"


@dataclass(frozen=True)
class Payload:
    """The raw answer to one request: one body for REST, many messages for a stream hour."""

    request: Request
    bodies: tuple[str, ...]
    received_at_ms: int
    kind: PayloadKind = "rest"
    source: str = field(default="unknown")


class MarketSource(Protocol):
    """What the raw assets need from a source."""

    name: str

    def fetch(self, family: str, key: str, day: date) -> list[Payload]:
        """Raw payloads of endpoint ``family`` for ``key`` (symbol or asset) on UTC ``day``."""
        ...

    def fetch_all(self, family: str, partitions: Sequence[tuple[str, date]]
                  ) -> Iterator[tuple[str, date, list[Payload]]]:
        """Payloads of many partitions in one go, in order; a network source uses one pooled
        client (and its request budget) for the whole run."""
        ...


class BatchFetchMixin:
    """``fetch`` as a one-partition ``fetch_all``, for sources whose batch run is the real one."""

    def fetch(self, family: str, key: str, day: date) -> list[Payload]:
        for _key, _day, payloads in self.fetch_all(family, [(key, day)]):  # type: ignore[attr-defined]
            return payloads
        raise SourceError(f"{family} {key} {day}: the batch fetch returned no partition")


class SequentialFetchMixin:
    """``fetch_all`` as a loop over ``fetch``, for sources with nothing to share between calls."""

    def fetch_all(self, family: str, partitions: Sequence[tuple[str, date]]
                  ) -> Iterator[tuple[str, date, list[Payload]]]:
        for key, day in partitions:
            yield key, day, self.fetch(family, key, day)  # type: ignore[attr-defined]
