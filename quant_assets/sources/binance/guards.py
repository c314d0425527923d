"""Per-host protections: the IP-ban register (418), the 429 pause and the circuit breaker."""

from __future__ import annotations

import json
import os
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from quant_assets.sources.base import SourceError


class BanRegister:
    """Bans per base URL, shared by every client in the process and, through a small JSON
    file, by every process on the machine.

    A ban outlives the client that received it: a retried run, another asset's step in a
    separate worker process, or tomorrow's schedule must not send anything to the host
    before the ban ends, because the exchange extends bans (up to days) for IPs that keep
    sending. The file lives at ``path`` (default ``$QUANT_DATA_DIR/binance_bans.json``)
    and is replaced atomically; an unreadable file is an error, never an empty register.
    """

    def __init__(self, path: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._until: dict[str, datetime] = {}
        self._path = path

    @property
    def path(self) -> Path:
        return self._path or Path(os.environ.get("QUANT_DATA_DIR", "data")) / "binance_bans.json"

    def _read_file(self) -> dict[str, datetime]:
        try:
            raw = json.loads(self.path.read_text())
            return {url: datetime.fromisoformat(until) for url, until in raw.items()}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, AttributeError) as exc:
            raise SourceError(f"ban register {self.path} is unreadable ({exc}); fix or remove it "
                              "only once you are sure no Binance ban is still running") from exc

    def _write_file(self, bans: dict[str, datetime]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as handle:
            json.dump({url: until.isoformat() for url, until in bans.items()}, handle)
        os.replace(tmp, self.path)

    def ban(self, base_url: str, until: datetime) -> datetime:
        """Record a ban; the later end wins if one is already recorded."""
        with self._lock:
            bans = {**self._read_file(), **self._until}
            current = bans.get(base_url)
            if current is None or until > current:
                bans[base_url] = until
            now = datetime.now(UTC)
            self._until = {url: end for url, end in bans.items() if end > now}
            self._write_file(self._until)
            return bans[base_url]

    def banned_until(self, base_url: str, now: datetime | None = None) -> datetime | None:
        now = now or datetime.now(UTC)
        with self._lock:
            candidates = [end for end in (self._until.get(base_url), self._read_file().get(base_url))
                          if end is not None and end > now]
            if not candidates:
                self._until.pop(base_url, None)
                return None
            self._until[base_url] = max(candidates)
            return self._until[base_url]

    def clear(self) -> None:
        with self._lock:
            self._until.clear()
            self.path.unlink(missing_ok=True)


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
