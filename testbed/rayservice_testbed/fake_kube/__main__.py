"""Run the fake API server on its own, for a shell or a program to talk to.

    python -m rayservice_testbed.fake_kube --kubeconfig /tmp/fake.kubeconfig [--ray-heads]

It writes a kubeconfig for the server, prints it, and serves until interrupted (Ctrl-C), then
stops the operator and every Ray head it started.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading
from pathlib import Path

from .server import FakeKubeServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rayservice_testbed.fake_kube")
    parser.add_argument("--kubeconfig", type=Path, required=True, help="where to write it")
    parser.add_argument(
        "--ray-heads",
        action="store_true",
        help="start a real local Ray head per RayCluster (needs ray[serve])",
    )
    parser.add_argument("--no-operator", action="store_true", help="the API alone, no KubeRay")
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with FakeKubeServer(operator=not args.no_operator, ray_heads=args.ray_heads) as server:
        path = server.write_kubeconfig(args.kubeconfig)
        print(f"fake API server at {server.url}; kubeconfig {path}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
