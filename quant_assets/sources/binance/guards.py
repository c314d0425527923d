"""Per-host protections: the IP-ban register (418), the 429 pause and the circuit breaker."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


class BanRegister:
    """Bans per base URL, shared by every client in the process.

    A ban outlives the client that received it: a retried run in the same process must
    not send anything to the host before the ban ends (continuing to send extends bans).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until: dict[str, datetime] = {}

    def ban(self, base_url: str, until: datetime) -> datetime:
        """Record a ban; the later end wins if one is already recorded."""
        with self._lock:
            current = self._until.get(base_url)
            if current is None or until > current:
                self._until[base_url] = until
            return self._until[base_url]

    def banned_until(self, base_url: str, now: datetime | None = None) -> datetime | None:
        now = now or datetime.now(UTC)
        with self._lock:
            until = self._until.get(base_url)
            if until is not None and until <= now:
                del self._until[base_url]
                return None
            return until

    def clear(self) -> None:
        with self._lock:
            self._until.clear()


#: The process-wide register.
BANS = BanRegister()


def ban_end(retry_after: float, now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) + timedelta(seconds=retry_after)


@dataclass
class CircuitBreaker:
    """Opens after ``threshold`` consecutive transient failures; half-opens after ``cooldown``.

    While open, requests fail at once instead of adding load to a host that is failing.
    After the cooldown one request is let through; its success closes the circuit, its
    failure opens it again.
    """

    threshold: int
    cooldown: float
    consecutive_failures: int = 0
    opened_at: float | None = None
    probing: bool = False
    last_failure: str = ""

    def allows(self, now: float) -> bool:
        if self.opened_at is None:
            return True
        if now - self.opened_at >= self.cooldown and not self.probing:
            self.probing = True
            return True
        return False

    def is_closed(self) -> bool:
        """No failure streak has opened the circuit (or a probe is under way)."""
        return self.opened_at is None or self.probing

    def reopens_at(self) -> float:
        return (self.opened_at or 0.0) + self.cooldown

    def success(self) -> None:
        self.consecutive_failures = 0
        self.opened_at = None
        self.probing = False

    def failure(self, reason: str, now: float) -> None:
        self.last_failure = reason
        self.consecutive_failures += 1
        if self.probing or self.consecutive_failures >= self.threshold:
            self.opened_at = now
            self.probing = False
