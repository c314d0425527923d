"""HMAC-SHA256 request signing of Binance's signed (USER_DATA) endpoints.

The signed payload is the query string exactly as sent; the signature is appended as
the last parameter. Facts: ``shared/fixtures/BINANCE_API_FACTS.md`` section 5.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from urllib.parse import urlencode

from quant_assets.sources.http import Secret


def encode_query(params: Sequence[tuple[str, str]]) -> str:
    """The query string, percent-encoded, in the given order (what is signed is what is sent)."""
    return urlencode(list(params))


def hmac_signature(secret: Secret, payload: str) -> str:
    """``hex(HMAC_SHA256(key=secret, msg=payload))``."""
    return hmac.new(secret.reveal().encode(), payload.encode(), hashlib.sha256).hexdigest()


def signed_query(params: Sequence[tuple[str, str]], secret: Secret, timestamp_ms: int,
                 recv_window_ms: int) -> str:
    """Query string with ``recvWindow``, ``timestamp`` and, last, ``signature``."""
    payload = encode_query([*params, ("recvWindow", str(recv_window_ms)), ("timestamp", str(timestamp_ms))])
    return f"{payload}&signature={hmac_signature(secret, payload)}"
