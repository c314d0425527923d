"""The landing zone: every raw response kept, compressed, before it is parsed.

Layout: ``<root>/<source>/<family>/<YYYY-MM-DD>/<key>/<request>.jsonl.gz``. The first
line is a header (request, source, kind, received time, SHA-256 of the bodies); each
following line is one response body as a JSON string, so the text is byte-for-byte
what was served. History requests are named by the request alone; snapshots (polls
of current state) also by the time they were received.

A file is never overwritten: landing the same request again with identical bodies
reuses the file; different bodies are written as ``<request>.v2.jsonl.gz``, ``v3`` …
and :meth:`LandingZone.read` returns the newest version of each. A new version is
``refreshed`` when the one before was received before its day closed (today's open
partition grows through the day); otherwise it is a ``new_version``: the source
changed an answer it had already given, which the raw assets report.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Literal

from quant_assets.days import day_end
from quant_assets.sources.base import Payload, Request

LandingStatus = Literal["new", "unchanged", "refreshed", "new_version"]
_VERSION = re.compile(r"^(?P<stem>.+?)(\.v(?P<version>\d+))?\.jsonl\.gz$")
FORMAT_VERSION = 1


class LandingError(RuntimeError):
    """A landing file is missing, unreadable or not in the expected format."""


@dataclass(frozen=True)
class LandedFile:
    path: Path
    status: LandingStatus


def _digest(bodies: tuple[str, ...]) -> str:
    sha = hashlib.sha256()
    for body in bodies:
        sha.update(hashlib.sha256(body.encode()).digest())
    return sha.hexdigest()


class LandingZone:
    """Append-only store of raw payloads under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def folder(self, source: str, family: str, key: str, day: date) -> Path:
        return self.root / source / family / day.isoformat() / key

    @staticmethod
    def _stem(payload: Payload) -> str:
        stem = payload.request.slug()
        return f"{stem}__{payload.received_at_ms}" if payload.kind == "snapshot" else stem

    def write(self, family: str, key: str, day: date, payload: Payload) -> LandedFile:
        """Store ``payload`` unless an identical copy is already there; never overwrite."""
        folder = self.folder(payload.source, family, key, day)
        folder.mkdir(parents=True, exist_ok=True)
        stem = self._stem(payload)
        digest = _digest(payload.bodies)
        versions = self._versions(folder, stem)
        previous = self._header(versions[-1][1]) if versions else None
        if previous is not None and previous["sha256"] == digest:
            return LandedFile(versions[-1][1], "unchanged")
        next_version = versions[-1][0] + 1 if versions else 1
        name = f"{stem}.jsonl.gz" if next_version == 1 else f"{stem}.v{next_version}.jsonl.gz"
        target = folder / name
        header = {
            "format": FORMAT_VERSION, "source": payload.source, "family": family, "key": key,
            "day": day.isoformat(), "kind": payload.kind, "endpoint": payload.request.endpoint,
            "params": [list(p) for p in payload.request.params],
            "received_at_ms": payload.received_at_ms, "sha256": digest,
        }
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0,
                                                          compresslevel=6) as gz:
                gz.write((json.dumps(header) + "\n").encode())
                for body in payload.bodies:
                    gz.write((json.dumps(body) + "\n").encode())
            os.link(tmp, target)  # fails if the target appeared meanwhile: no silent overwrite
        finally:
            os.unlink(tmp)
        if previous is None:
            return LandedFile(target, "new")
        closes_ms = (day_end(day) - datetime(1970, 1, 1)) // timedelta(milliseconds=1)
        return LandedFile(target, "refreshed" if previous["received_at_ms"] < closes_ms else "new_version")

    def read(self, source: str, family: str, key: str, day: date) -> list[Payload]:
        """The newest version of every payload landed for this partition, in request order."""
        folder = self.folder(source, family, key, day)
        if not folder.is_dir():
            raise LandingError(f"no landing files for {family} {key} {day} from source "
                               f"{source!r} (looked in {folder})")
        newest: dict[str, tuple[int, Path]] = {}
        for path in folder.glob("*.jsonl.gz"):
            match = _VERSION.match(path.name)
            if match is None:
                continue
            version = int(match.group("version") or 1)
            stem = match.group("stem")
            if stem not in newest or newest[stem][0] < version:
                newest[stem] = (version, path)
        payloads = [self.load(path) for _, path in newest.values()]
        return sorted(payloads, key=lambda p: (p.received_at_ms, p.request.params))

    @staticmethod
    def load(path: Path) -> Payload:
        try:
            with gzip.open(path, "rt") as handle:
                header = json.loads(handle.readline())
                bodies = tuple(json.loads(line) for line in handle)
        except (OSError, EOFError, json.JSONDecodeError) as exc:
            raise LandingError(f"landing file {path} is unreadable: {exc}") from exc
        if header.get("format") != FORMAT_VERSION:
            raise LandingError(f"landing file {path} has unknown format {header.get('format')!r}")
        if _digest(bodies) != header["sha256"]:
            raise LandingError(f"landing file {path} fails its SHA-256: the bodies were altered")
        request = Request(header["endpoint"], tuple(tuple(p) for p in header["params"]))
        return Payload(request, bodies, header["received_at_ms"], header["kind"], header["source"])

    def _versions(self, folder: Path, stem: str) -> list[tuple[int, Path]]:
        found = []
        for path in folder.glob(f"{stem}*.jsonl.gz"):
            match = _VERSION.match(path.name)
            if match and match.group("stem") == stem:
                found.append((int(match.group("version") or 1), path))
        return sorted(found)

    @staticmethod
    def _header(path: Path) -> dict:
        with gzip.open(path, "rt") as handle:
            return json.loads(handle.readline())
