"""Fixtures of the on-chain source tests: a local fake Glassnode and fast client settings."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from quant_assets.sources.glassnode import GlassnodeConfig
from quant_assets.sources.http import Secret
from quant_assets_tests.sources.onchain.fake_glassnode import TEST_KEY, FakeGlassnode

FIXTURES = Path(__file__).parents[2] / "fixtures" / "glassnode"


@pytest.fixture
def glassnode() -> Iterator[FakeGlassnode]:
    with FakeGlassnode() as server:
        yield server
    assert not server.errors, f"the fake Glassnode failed: {server.errors!r}"


def fast_config(server: FakeGlassnode, **overrides: Any) -> GlassnodeConfig:
    """Client settings for local tests: millisecond backoff, three attempts, short waits."""
    settings: dict[str, Any] = {
        "base_url": server.url, "api_key": Secret(TEST_KEY), "timeout_seconds": 2.0, "max_attempts": 3,
        "backoff_base_seconds": 0.001, "backoff_cap_seconds": 0.01, "max_wait_seconds": 1.0,
    }
    return GlassnodeConfig(**{**settings, **overrides})


class Sleeps:
    """A ``sleep`` that records every wait and really waits."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        time.sleep(seconds)


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text()
