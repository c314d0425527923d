"""A 418 ban is honoured by every process until it ends, through the ban file."""

from datetime import UTC, datetime, timedelta

import pytest

from quant_assets.sources.base import SourceError
from quant_assets.sources.binance.guards import BanRegister

HOST = "https://fapi.example"


def test_a_ban_recorded_by_one_process_stops_another(tmp_path):
    path = tmp_path / "bans.json"
    until = datetime.now(UTC) + timedelta(minutes=2)
    BanRegister(path).ban(HOST, until)
    another_process = BanRegister(path)
    assert another_process.banned_until(HOST) == until
    assert another_process.banned_until("https://api.example") is None


def test_the_later_ban_wins_and_ended_bans_are_forgotten(tmp_path):
    path = tmp_path / "bans.json"
    now = datetime.now(UTC)
    first, second = BanRegister(path), BanRegister(path)
    first.ban(HOST, now + timedelta(minutes=10))
    second.ban(HOST, now + timedelta(minutes=2))
    assert BanRegister(path).banned_until(HOST) == now + timedelta(minutes=10)
    assert BanRegister(path).banned_until(HOST, now=now + timedelta(minutes=11)) is None


def test_an_unreadable_ban_file_is_an_error_not_an_empty_register(tmp_path):
    path = tmp_path / "bans.json"
    path.write_text("{not json")
    with pytest.raises(SourceError, match=r"ban register .* is unreadable"):
        BanRegister(path).banned_until(HOST)
