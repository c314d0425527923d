"""Pieces shared by the network clients."""

import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from quant_assets.sources.base import SourceError
from quant_assets.sources.http import Secret, header_seconds, require_valid


def test_retry_after_as_seconds_or_http_date():
    assert header_seconds({"retry-after": "7"}, "retry-after") == 7.0
    in_a_minute = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    assert 55 <= header_seconds({"retry-after": in_a_minute}, "retry-after") <= 60
    assert header_seconds({}, "retry-after") is None


def test_an_unreadable_header_is_logged_and_left_to_the_client_backoff(caplog):
    with caplog.at_level(logging.WARNING):
        assert header_seconds({"retry-after": "soon"}, "retry-after") is None
    assert "unreadable retry-after header 'soon'" in caplog.text


def test_invalid_config_fields_are_named_together():
    class Config:
        timeout = -1
        retries = 0

    with pytest.raises(SourceError, match=r"Config: invalid timeout=-1, retries=0"):
        require_valid(Config(), {"timeout": False, "retries": False, "other": True})


def test_secrets_never_print():
    secret = Secret("abc123")
    assert "abc123" not in f"{secret} {secret!r} {secret!s}" and secret.reveal() == "abc123"
