"""A stand-in for Prometheus' HTTP API on 127.0.0.1: canned answers per path, every request recorded."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class StubPrometheus:
    """Answers GET <path> with ``answers[path]``: (status, body); a dict body is sent as JSON."""

    def __init__(
        self, answers: dict[str, tuple[int, Any]] | None = None, on_request: Callable[[str], None] | None = None
    ) -> None:
        self.answers: dict[str, tuple[int, Any]] = dict(answers or {})
        self.requests: list[str] = []
        self.on_request = on_request
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stub.requests.append(self.path)
                if stub.on_request is not None:
                    stub.on_request(self.path)
                status, body = stub.answers.get(self.path, (404, "404 page not found\n"))
                data = (json.dumps(body) if isinstance(body, dict) else body).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="stub-prometheus", daemon=True)
        self._thread.start()

    def answer(self, path: str, data: dict[str, Any]) -> None:
        """A successful API answer carrying ``data``."""
        self.answers[path] = (200, {"status": "success", "data": data})

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
