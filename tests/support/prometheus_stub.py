"""A stand-in for Prometheus' HTTP API on 127.0.0.1: canned answers per path, every request and its headers
recorded; over TLS when given a certificate and key."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Callable
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class StubPrometheus:
    """Answers GET <path> with ``answers[path]``: (status, body) or (status, body, headers); a dict body is
    sent as JSON. ``tls``: (certificate file, key file) to serve https://."""

    def __init__(
        self,
        answers: dict[str, tuple[int, Any]] | None = None,
        on_request: Callable[[str], None] | None = None,
        tls: tuple[str, str] | None = None,
    ) -> None:
        self.answers: dict[str, tuple] = dict(answers or {})
        self.requests: list[str] = []
        self.headers: list[Message] = []  # of each request, in order (names match in any case)
        self.on_request = on_request
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stub.requests.append(self.path)
                stub.headers.append(self.headers)
                if stub.on_request is not None:
                    stub.on_request(self.path)
                status, body, *headers = stub.answers.get(self.path, (404, "404 page not found\n"))
                data = (json.dumps(body) if isinstance(body, dict) else body).encode("utf-8")
                self.send_response(status)
                for name, value in (headers[0] if headers else {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="stub-prometheus", daemon=True)
        self._thread.start()

    def answer(self, path: str, data: dict[str, Any]) -> None:
        """A successful API answer carrying ``data``."""
        self.answers[path] = (200, {"status": "success", "data": data})

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
