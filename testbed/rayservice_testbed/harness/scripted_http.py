"""A loopback HTTP(S) server that answers from a script and records every request line and time.

The small servers the transport tests need (a dashboard or an API server that answers 429 then
200, a forward proxy, an HTTPS endpoint with a throwaway certificate) differ only in what they
answer: a script of ``(status, body, headers)`` consumed in order, then ``then`` for ever.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = tuple[int, Any, dict[str, str]]


class ScriptedServer:
    """Answers GET/PUT/POST from ``script`` (then ``then``); ``tls`` wraps it in HTTPS."""

    def __init__(
        self,
        script: list[Answer] | None = None,
        *,
        then: Answer = (200, {}, {}),
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.lines: list[str] = []
        self.times: list[float] = []
        self.connections = 0
        script = list(script or [])
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                recorder.lines.append(f"{self.command} {self.path}")
                recorder.times.append(time.monotonic())
                status, body, headers = script.pop(0) if script else then
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_PUT = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self) -> Any:
                sock, address = self.socket.accept()
                recorder.connections += 1
                if tls is not None:
                    sock = tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
                return sock, address

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # failed TLS handshakes are what some tests provoke

        self.server = Server(("127.0.0.1", 0), Handler)
        self.scheme = "https" if tls is not None else "http"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def scripted_server(
    script: list[Answer] | None = None,
    *,
    then: Answer = (200, {}, {}),
    tls: ssl.SSLContext | None = None,
) -> Iterator[ScriptedServer]:
    server = ScriptedServer(script, then=then, tls=tls)
    try:
        yield server
    finally:
        server.close()
