"""A real local Ray head with Serve, on loopback, owned by the test session.

Each head gets its own ports (GCS, dashboard, agent, client, Serve HTTP and gRPC) and temp dir, so
several heads can run side by side (the Kubernetes test double starts one per RayCluster). The head
runs ``ray start --block`` in a session of its own and is ended by that session's process ids.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from .processes import end_session, free_port

RAY_BIN = Path(sys.executable).with_name("ray")
SERVE_BIN = Path(sys.executable).with_name("serve")


def loopback_env() -> dict[str, str]:
    """Environment that keeps Ray on 127.0.0.1 and quiet (no cluster mode on macOS/Windows)."""
    env = dict(os.environ)
    env["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    env.pop("RAY_ADDRESS", None)
    return env


@dataclass
class RayHead:
    """One running Ray head; ``dashboard_url`` and ``serve_url`` are what tests talk to."""

    gcs_port: int
    dashboard_port: int
    serve_port: int
    grpc_port: int
    temp_dir: Path
    num_cpus: int
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.temp_dir / "ray-start.log"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.gcs_port}"

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    @property
    def serve_url(self) -> str:
        return f"http://127.0.0.1:{self.serve_port}"

    @classmethod
    def start(
        cls, *, num_cpus: int = 4, timeout_s: float = 120.0, start_serve: bool = True
    ) -> RayHead:
        """Start a head, wait until its Serve REST API answers, and start Serve on its own ports.

        With ``start_serve=False`` Serve is left for the first PUT to start (as on a fresh
        KubeRay cluster), which then picks the HTTP port from its ``http_options``.
        """
        # Ray's unix socket paths must stay short: keep the temp dir directly under /tmp.
        temp_dir = Path(tempfile.mkdtemp(prefix="rs-ray-", dir="/tmp"))
        head = cls(
            gcs_port=free_port(),
            dashboard_port=free_port(),
            serve_port=free_port(),
            grpc_port=free_port(),
            temp_dir=temp_dir,
            num_cpus=num_cpus,
        )
        head._launch()
        try:
            head._wait_for_dashboard(timeout_s)
            if start_serve:
                head._start_serve()
        except BaseException:
            head.stop()
            raise
        return head

    def _launch(self) -> None:
        cmd = [
            str(RAY_BIN), "start", "--head", "--block",
            "--node-ip-address", "127.0.0.1",
            "--port", str(self.gcs_port),
            "--dashboard-host", "127.0.0.1",
            "--dashboard-port", str(self.dashboard_port),
            "--dashboard-agent-listen-port", str(free_port()),
            "--ray-client-server-port", str(free_port()),
            "--num-cpus", str(self.num_cpus),
            "--temp-dir", str(self.temp_dir / "t"),
            "--disable-usage-stats",
            "--include-dashboard", "true",
        ]  # fmt: skip
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=loopback_env(),
                start_new_session=True,
            )

    def _wait_for_dashboard(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        delay = 0.1
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"ray start exited early:\n{self.log.read_text()[-3000:]}")
            try:
                reply = requests.get(f"{self.dashboard_url}/api/serve/applications/", timeout=5)
                if reply.status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(delay)
            delay = min(1.0, delay * 1.5)
        raise TimeoutError(
            f"Ray dashboard not ready in {timeout_s}s:\n{self.log.read_text()[-3000:]}"
        )

    def _start_serve(self) -> None:
        """Start Serve on this head's own HTTP/gRPC ports (a running Serve ignores http_options)."""
        subprocess.run(
            [
                str(SERVE_BIN),
                "start",
                "--address",
                self.address,
                "--http-host",
                "127.0.0.1",
                "--http-port",
                str(self.serve_port),
                "--grpc-port",
                str(self.grpc_port),
            ],
            check=True,
            env=loopback_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=120,
        )

    def stop(self) -> None:
        """End every process this head started, then remove its temp dir."""
        if self.proc is not None:
            end_session(self.proc)
            self.proc = None
        shutil.rmtree(self.temp_dir, ignore_errors=True)
