"""Run the stand-in KubeRay API server on its own, over a fake Kubernetes, for a shell.

    python -m rayservice_testbed.kuberay_apiserver [--release v1.7] [--ray-heads] \
        [--token SECRET] [--disable-v2] [--kubeconfig PATH]

It prints the API server's URL (and writes a kubeconfig for the fake Kubernetes behind it, if
asked), and serves until interrupted, then stops both and every Ray head started.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading
from pathlib import Path

from rayservice_testbed.fake_kube.server import FakeKubeServer

from .releases import RELEASES
from .server import FakeKubeRayApiServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rayservice_testbed.kuberay_apiserver")
    parser.add_argument("--release", default="v1.7", help=f"one of {', '.join(RELEASES)}")
    parser.add_argument("--ray-heads", action="store_true", help="a real Ray head per cluster")
    parser.add_argument("--token", help="put the security proxy in front, with this token")
    parser.add_argument("--disable-v2", action="store_true", help="--enable-api-server-v2=false")
    parser.add_argument("--kubeconfig", type=Path, help="write the fake Kubernetes' kubeconfig")
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with FakeKubeServer(operator=True, ray_heads=args.ray_heads) as kube:
        apiserver = FakeKubeRayApiServer(
            kube, release=args.release, token=args.token, enable_v2=not args.disable_v2
        )
        with apiserver:
            if args.kubeconfig:
                kube.write_kubeconfig(args.kubeconfig)
            print(
                f"KubeRay API server {apiserver.release.name} stand-in at {apiserver.url}; "
                f"fake Kubernetes at {kube.url}",
                flush=True,
            )
            with contextlib.suppress(KeyboardInterrupt):
                stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
