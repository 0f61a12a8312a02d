"""A real local Ray head with Serve, on loopback, owned by the test session.

Each head gets its own ports (GCS, dashboard, agent, client, Serve HTTP and gRPC) and temp dir, so
several heads can run side by side (the Kubernetes test double starts one per RayCluster). The head
runs ``ray start --block`` in a session of its own and is ended by that session's process ids.

A head runs the Ray of this virtualenv unless ``RAYSERVICE_TEST_RAY_VENV`` names another one (a
Ray release with its own pinned libraries, made by ``scripts/ray-venv``): the package under test
stays in its own virtualenv and talks to the head over HTTP, as it talks to a cluster's.
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

from pulumi_rayservice._util.versions import parse_version

from .processes import end_session, free_port

SERVE_API_ON_HEAD_SINCE = (2, 8)
"""Ray before 2.8 has no Serve REST API on the dashboard head (the package refuses it)."""
RAY_VENV_ENV = "RAYSERVICE_TEST_RAY_VENV"
"""Names the virtualenv whose Ray the test heads run (default: this one)."""


def ray_bin_dir() -> Path:
    """The ``bin`` folder of the virtualenv whose Ray the heads run."""
    venv = os.environ.get(RAY_VENV_ENV)
    return Path(venv) / "bin" if venv else Path(sys.executable).parent


RAY_PYTHON = ray_bin_dir() / "python"
"""The Python beside the heads' Ray: what ``serve.run`` scripts of the tests run with."""


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
    bin_dir: Path = field(default_factory=ray_bin_dir)
    """The ``bin`` folder of the virtualenv whose Ray this head runs."""
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)
    _version: tuple[int, ...] | None = field(default=None, init=False, repr=False)

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
        cls,
        *,
        num_cpus: int = 4,
        timeout_s: float = 120.0,
        start_serve: bool = True,
        venv: Path | None = None,
    ) -> RayHead:
        """Start a head, wait until its Serve REST API answers, and start Serve on its own ports.

        With ``start_serve=False`` Serve is left for the first PUT to start (as on a fresh
        KubeRay cluster), which then picks the HTTP port from its ``http_options``. ``venv``
        names the virtualenv whose Ray runs (default: ``RAYSERVICE_TEST_RAY_VENV``, else this
        one).
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
            bin_dir=venv / "bin" if venv is not None else ray_bin_dir(),
        )
        head._launch()
        try:
            head._wait_for_dashboard(timeout_s)
            if start_serve and head.ray_version() >= SERVE_API_ON_HEAD_SINCE:
                head._start_serve()
        except BaseException:
            head.stop()
            raise
        return head

    def _launch(self) -> None:
        cmd = [
            str(self.bin_dir / "ray"), "start", "--head", "--block",
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
        """Wait until the dashboard answers its version, and Serve's API where the head has it.

        Ray before 2.8 serves Serve's REST API on the dashboard agent only: for such a head
        (what the package must refuse) the version is all there is to wait for.
        """
        deadline = time.monotonic() + timeout_s
        delay = 0.1
        path = "/api/version"
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"ray start exited early:\n{self.log.read_text()[-3000:]}")
            try:
                reply = requests.get(f"{self.dashboard_url}{path}", timeout=5)
                if reply.status_code == 200 and path == "/api/version":
                    if self.ray_version() < SERVE_API_ON_HEAD_SINCE:
                        return
                    path = "/api/serve/applications/"
                    continue
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
                str(self.bin_dir / "serve"),
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

    def ray_version(self) -> tuple[int, ...]:
        """The Ray version the head's dashboard reports, as numbers (``2.8.1`` -> ``(2, 8, 1)``)."""
        if self._version is None:
            reply = requests.get(f"{self.dashboard_url}/api/version", timeout=10)
            reply.raise_for_status()
            version = parse_version(reply.json()["ray_version"])
            if version is None:
                raise RuntimeError(f"the head reports no Ray version: {reply.text[:200]}")
            self._version = version
        return self._version

    def stop(self) -> None:
        """End every process this head started, then remove its temp dir."""
        if self.proc is not None:
            end_session(self.proc)
            self.proc = None
        shutil.rmtree(self.temp_dir, ignore_errors=True)
