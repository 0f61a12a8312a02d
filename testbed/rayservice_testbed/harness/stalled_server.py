"""A Ray dashboard on 127.0.0.1 whose chosen requests are accepted, then never answered or trickled.

What a hung dashboard or a half-dead load balancer looks like from the client: the connection is
accepted (so a connect timeout never fires), and then either no byte ever comes (``silent``) or a
200 comes one byte every half second with a body that never ends (``trickle``: every read returns
quickly, so a per-read timeout never fires either). The requests that are not stalled are
answered as a Serve with no apps answers (Serve running, Ray 2.60.0).
"""

from __future__ import annotations

import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

APPS = "/api/serve/applications/"


class StallingDashboard:
    """A Serve REST API on loopback: Serve running, no apps; chosen methods stall.

    ``stall``: the HTTP methods that never get an answer; ``mode``: ``silent`` (nothing is sent)
    or ``trickle`` (a 200 whose bytes come one every ``every_s``, for ever).
    """

    def __init__(self, mode: str, stall: set[str], every_s: float = 0.5) -> None:
        self.every_s = every_s
        self.mode = mode
        self.stall = stall
        self.seen: list[str] = []
        self._stop = threading.Event()
        dashboard = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                dashboard.seen.append(f"{self.command} {self.path}")
                if self.command in dashboard.stall:
                    dashboard._hold(self)
                    return
                if self.path.startswith(APPS):
                    body = {"applications": {}, "controller_info": {"node_id": "n"}}
                else:
                    body = {"ray_version": "2.60.0"}
                payload = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_PUT = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def _hold(self, handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True
        if self.mode == "silent":
            self._stop.wait()
            return
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 99999\r\n\r\n"
        for byte in head + b"{" * 99999:
            if self._stop.wait(self.every_s):
                return
            try:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
            except OSError:
                return

    def close(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()


def back_head_service(
    fake: Any, namespace: str, service: str, dashboard: StallingDashboard
) -> None:
    """Make ``service`` (port ``dashboard``) exist in the fake API server, backed by ``dashboard``.

    A write through the API server's proxy first asks the dashboard its Ray version: with the
    head Service there, it gets as far as the cluster's Lease.
    """
    from ..fake_kube import SERVICES
    from ..fake_kube.status import ApiError

    body = {
        "metadata": {"name": service},
        "spec": {"ports": [{"name": "dashboard", "port": 8265}]},
    }
    with contextlib.suppress(ApiError):  # made by an earlier run
        fake.registry.create(SERVICES, namespace, body)
    fake.set_endpoints(namespace, service, {"dashboard": dashboard.url})
