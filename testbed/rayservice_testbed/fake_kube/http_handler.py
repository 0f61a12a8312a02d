"""What the fake's two front doors (the API server, a Gateway listener) share as HTTP servers.

HTTP/1.1 with keep-alive as the real servers speak it, every open connection tracked (so
``stop()`` and fault injection can close them), no access log (each keeps its own request
record), and every method handed to one ``_handle``.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any


class TrackedHandler(BaseHTTPRequestHandler):
    """A keep-alive handler whose connections are tracked; subclasses define ``_handle``."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    sys_version = ""

    def _tracked(self) -> tuple[threading.Lock, set[socket.socket]]:
        """The lock and the set of open connections this handler's server keeps."""
        raise NotImplementedError

    def _handle(self) -> None:
        raise NotImplementedError

    def log_message(self, format: str, *args: Any) -> None:
        return  # each server keeps its own request record

    def setup(self) -> None:
        super().setup()
        lock, connections = self._tracked()
        with lock:
            connections.add(self.connection)

    def finish(self) -> None:
        lock, connections = self._tracked()
        with lock:
            connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()
