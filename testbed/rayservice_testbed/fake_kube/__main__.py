"""Run the fake API server on its own, for a shell or a program to talk to.

    python -m rayservice_testbed.fake_kube --kubeconfig /tmp/fake.kubeconfig [--ray-heads] \
        [--gateway-controller [--gateway-class fake-gateway ...]]

It writes a kubeconfig for the server, prints it, and serves until interrupted (Ctrl-C), then
stops the operator and every Ray head it started. With the Gateway controller, the address of
each Gateway listener is printed once it listens (a Gateway's status names no port).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
from pathlib import Path

from .gateway import DEFAULT_GATEWAY_CLASSES
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
    parser.add_argument(
        "--gateway-controller",
        action="store_true",
        help="serve Gateways on loopback ports and route by their HTTPRoutes",
    )
    parser.add_argument(
        "--gateway-class",
        action="append",
        dest="gateway_classes",
        metavar="NAME",
        help=f"a gatewayClassName it implements (default: {DEFAULT_GATEWAY_CLASSES[0]})",
    )
    args = parser.parse_args(argv)
    if args.gateway_classes and not args.gateway_controller:
        parser.error("--gateway-class needs --gateway-controller")
    if args.gateway_controller:
        gateway_log = logging.getLogger("fake_kube.gateway")
        gateway_log.setLevel(logging.INFO)
        gateway_log.addHandler(logging.StreamHandler(sys.stdout))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server = FakeKubeServer(
        operator=not args.no_operator,
        ray_heads=args.ray_heads,
        gateway_controller=args.gateway_controller,
        gateway_classes=tuple(args.gateway_classes or DEFAULT_GATEWAY_CLASSES),
    )
    with server:
        path = server.write_kubeconfig(args.kubeconfig)
        print(f"fake API server at {server.url}; kubeconfig {path}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
