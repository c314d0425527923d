"""A webhook receiver: a real HTTP server on 127.0.0.1 that records the POSTs it gets."""

import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

SECRET_PATH = "/hooks/T000/B000/very-secret-token"


@dataclass
class Webhook:
    url: str
    statuses: list[int] = field(default_factory=list)  # answers to come; 200 once they run out
    received: list[dict] = field(default_factory=list)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            hook.received.append({"path": self.path, "type": self.headers["Content-Type"],
                                  "json": json.loads(body)})
            self.send_response(hook.statuses.pop(0) if hook.statuses else 200)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_port}{SECRET_PATH}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield hook
    server.shutdown()
