"""Client-side rate budgets: request weight per host, request counts per endpoint pool.

The exchange counts weight per IP in fixed windows (``X-MBX-USED-WEIGHT-1M`` is the
weight used in the current minute). The client keeps a *sliding* ledger instead:
weight spent stays on it for the window's length plus a guard, and a request is sent
only when it fits under the cap. Any fixed window of the server is then covered by
one span of the ledger, wherever its boundaries fall and however late the request
reaches the server (up to the guard), so the client cannot overfill a server window.

The budget learns about weight it did not spend itself (other processes on the same
IP) from the used-weight header of every response: what the server counts in its
current window beyond our own spending there is held in reserve for that window and
the next, so the server's window never holds more than the others' use plus our cap.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from quant_assets.sources.binance.weights import RequestPool

_INTERVAL_SECONDS = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86_400}
_INTERVAL_LETTER = {"SECOND": "S", "MINUTE": "M", "HOUR": "H", "DAY": "D"}


class BudgetConfigError(ValueError):
    """The exchange's ``rateLimits`` cannot be turned into a budget."""


class SlidingLedger:
    """Amounts spent, each kept for ``lifetime`` seconds; at most ``capacity`` at any time.

    Parameters
    ----------
    capacity
        The most that may be on the ledger at once.
    lifetime
        Seconds an amount stays on the ledger after it was spent.
    """

    def __init__(self, capacity: float, lifetime: float) -> None:
        if capacity <= 0 or lifetime <= 0:
            raise BudgetConfigError(f"capacity {capacity} and lifetime {lifetime} must be positive")
        self.capacity = capacity
        self.lifetime = lifetime
        self._entries: deque[tuple[float, float]] = deque()
        self._total = 0.0

    def _prune(self, now: float) -> None:
        while self._entries and self._entries[0][0] + self.lifetime <= now:
            self._total -= self._entries.popleft()[1]

    def used(self, now: float) -> float:
        self._prune(now)
        return self._total

    def spent_since(self, since: float, now: float) -> float:
        self._prune(now)
        return sum(amount for at, amount in self._entries if at >= since)

    def wait_for(self, amount: float, now: float) -> float:
        """Seconds until ``amount`` fits (0 if it fits now)."""
        if amount > self.capacity:
            raise BudgetConfigError(f"a request of {amount} can never fit a budget of {self.capacity}")
        self._prune(now)
        excess = self._total + amount - self.capacity
        if excess <= 0:
            return 0.0
        freed = 0.0
        for at, spent in self._entries:
            freed += spent
            if freed >= excess:
                return max(at + self.lifetime - now, 0.0)
        raise AssertionError("unreachable: the ledger holds more than its excess")

    def spend(self, amount: float, now: float) -> None:
        if amount > 0:
            self._entries.append((now, amount))
            self._total += amount


@dataclass
class WeightLimit:
    """One REQUEST_WEIGHT limit of a host (e.g. 6000 per 1 MINUTE): our ledger and others' use.

    ``reserve`` is the weight other users of the IP spent in the server's current or
    previous window, as the used-weight header revealed it; it is kept free of our own
    requests, so the server's window holds at most ``reserve + capacity``.
    """

    interval: str
    interval_num: int
    limit: int
    ledger: SlidingLedger
    server_offset: float = 0.0
    _external: dict[int, float] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return _INTERVAL_SECONDS[self.interval] * self.interval_num

    @property
    def header(self) -> str:
        """Response header carrying the server's count, e.g. ``x-mbx-used-weight-1m``."""
        return f"x-mbx-used-weight-{self.interval_num}{_INTERVAL_LETTER[self.interval]}".lower()

    def _window(self, now: float) -> int:
        return math.floor((now + self.server_offset) / self.seconds)

    def _window_start(self, window: int) -> float:
        return window * self.seconds - self.server_offset

    def reserve(self, now: float) -> float:
        window = self._window(now)
        return max(self._external.get(window, 0.0), self._external.get(window - 1, 0.0))

    def wait_for(self, weight: int, now: float) -> float:
        """Seconds until ``weight`` fits beside the reserve (0 if it fits now)."""
        reserve = self.reserve(now)
        if weight > self.ledger.capacity - reserve:
            # Others hold the room: look again when the server's next window begins.
            return max(self._window_start(self._window(now) + 1) - now, 0.001)
        return self.ledger.wait_for(weight + reserve, now)

    def observe(self, used: int, now: float) -> float:
        """Book what the server counts beyond our own spending in its current window; returns it."""
        window = self._window(now)
        ours = self.ledger.spent_since(self._window_start(window), now)
        external = max(used - ours, 0.0)
        if external > self._external.get(window, 0.0):
            self._external[window] = external
        for old in [w for w in self._external if w < window - 1]:
            del self._external[old]
        return external


def parse_weight_limits(rate_limits: Sequence[Mapping[str, Any]], share: float, guard: float
                        ) -> list[WeightLimit]:
    """The REQUEST_WEIGHT entries of ``exchangeInfo.rateLimits`` as budgets of ``share`` of each limit."""
    limits = []
    for entry in rate_limits:
        if entry.get("rateLimitType") != "REQUEST_WEIGHT":
            continue
        interval, num, limit = entry.get("interval"), entry.get("intervalNum"), entry.get("limit")
        if interval not in _INTERVAL_SECONDS or not isinstance(num, int) or not isinstance(limit, int) \
                or num < 1 or limit < 1:
            raise BudgetConfigError(f"unreadable REQUEST_WEIGHT rate limit {dict(entry)!r}")
        seconds = _INTERVAL_SECONDS[interval] * num
        limits.append(WeightLimit(interval, num, limit,
                                  SlidingLedger(math.floor(limit * share), seconds + guard)))
    if not limits:
        raise BudgetConfigError("exchangeInfo lists no REQUEST_WEIGHT rate limit, so no budget can be kept")
    return limits


@dataclass
class HostBudget:
    """REQUEST_WEIGHT limits of one host plus the request pools of some of its endpoints.

    ``clock`` is wall-clock seconds (server windows are aligned to wall-clock time).
    """

    pools: dict[RequestPool, SlidingLedger]
    clock: Callable[[], float]
    sleep: Callable[[float], Any] = asyncio.sleep
    limits: list[WeightLimit] = field(default_factory=list)
    _early: list[tuple[float, int]] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return bool(self.limits)

    def configure(self, limits: list[WeightLimit], server_offset: float) -> None:
        """Install the limits read from exchangeInfo; weight spent before that is booked now."""
        self.limits = limits
        for limit in limits:
            limit.server_offset = server_offset
        for at, weight in self._early:
            for limit in limits:
                limit.ledger.spend(weight, at)
        self._early.clear()

    def spend_unbudgeted(self, weight: int) -> None:
        """Book weight spent before the limits are known (the exchangeInfo request itself)."""
        self._early.append((self.clock(), weight))

    async def acquire(self, weight: int, pool: RequestPool | None) -> float:
        """Wait until ``weight`` (and one request of ``pool``) fits every budget, spend it; seconds waited.

        Waiting and spending happen on one event loop without an ``await`` between the
        check and the booking, so concurrent requests cannot both take the last room.
        """
        waited = 0.0
        while True:
            now = self.clock()
            wait = max([limit.wait_for(weight, now) for limit in self.limits]
                       + ([self.pools[pool].wait_for(1, now)] if pool else [0.0]))
            if wait <= 0:
                for limit in self.limits:
                    limit.ledger.spend(weight, now)
                if pool:
                    self.pools[pool].spend(1, now)
                return waited
            waited += wait
            await self.sleep(wait)

    def observe(self, headers: Mapping[str, str], received_at: float) -> float:
        """Correct the budgets with the server's used-weight headers; the most others were seen to use."""
        external = 0.0
        for limit in self.limits:
            value = headers.get(limit.header)
            if value is not None and value.strip().isdigit():
                external = max(external, limit.observe(int(value), received_at))
        return external
