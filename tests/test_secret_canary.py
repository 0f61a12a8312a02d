"""One canary secret through every error path and every repr: it never shows, in any form.

The canary is used as the Ray token, as the user token inside kubeconfig content, as the
KubeRay API server's token and as the Redis password. It holds characters that every encoding
changes (``/``, ``+``, ``=``, ``"``), and the marker ``s3cr3t`` is part of each form (as is,
repr- and JSON-escaped, URL-encoded), so one substring test catches them all, and a text cut in
the middle of the secret too.

Paths driven, without a network beyond 127.0.0.1:
- the public models: ``repr``/``str`` and their validation errors;
- both providers' Check and Diff, and Create/Update/Read/Delete, through the REAL provider host
  (whose error text is the whole traceback, chained exceptions included), against a closed port,
  an "API server"/dashboard that answers 400/401/403/500 echoing the request's headers in its body
  (as is, JSON, URL-encoded, repr), and the fake API server refusing the canary as a bad token;
- the same provider calls in-process with every log record and every ``pulumi.log`` line captured.
"""

from __future__ import annotations

import json
import socket
import threading
import traceback
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pulumi
import pytest
import yaml
from rayservice_testbed.fake_kube import FakeKubeServer, Scenario
from rayservice_testbed.fake_kube.fixtures import sample_cluster_spec
from rayservice_testbed.harness.provider_host import (
    PROVIDER_KEY,
    ProviderError,
    ProviderHost,
    provider_input,
    urn_of,
)

import pulumi_rayservice as rs
from pulumi_rayservice._util.secrets import SecretsRedacted, redact, secret_forms
from pulumi_rayservice.cluster.inputs import ClusterInputs
from pulumi_rayservice.cluster.provider import RayClusterProvider
from pulumi_rayservice.cluster.spec import GcsFaultTolerance
from pulumi_rayservice.cluster.template_provider import KubeRayComputeTemplateProvider
from pulumi_rayservice.errors import RayServiceError
from pulumi_rayservice.kube.config import api_client, load_client_configuration
from pulumi_rayservice.kube.transport import KubeProxyTransport
from pulumi_rayservice.serve.client import DashboardClient
from pulumi_rayservice.serve.dashboard import DashboardTarget
from pulumi_rayservice.serve.inputs import AppInputs
from pulumi_rayservice.serve.models.config import HTTPOptions
from pulumi_rayservice.serve.provider import ServeApplicationProvider

CANARY = "canary/s3cr3t+7f3a='q\""
MARK = "s3cr3t"
APP_TYPE = "pulumi-python:dynamic/rayservice:ServeApplication"
CLUSTER_TYPE = "pulumi-python:dynamic/rayservice:RayCluster"
TEMPLATE_TYPE = "pulumi-python:dynamic/rayservice:KubeRayComputeTemplate"
APP = {"name": "canary_app", "import_path": "m:app", "route_prefix": "/canary"}


def test_every_form_of_the_canary_holds_the_mark() -> None:
    encoded = [CANARY, repr(CANARY)[1:-1], json.dumps(CANARY)[1:-1], quote(CANARY, safe="")]
    assert len(set(encoded)) == len(encoded)  # the encodings really differ
    also = [repr(repr(CANARY)), json.dumps(json.dumps(CANARY)), quote_plus(CANARY)]
    assert all(MARK in form for form in [*encoded, *also])


def assert_clean(*texts: str) -> None:
    for text in texts:
        assert MARK not in text, (
            f"the canary leaked: ...{text[max(0, text.find(MARK) - 80) :][:200]}"
        )


def kubeconfig(server: str, token: str = CANARY) -> str:
    """Kubeconfig content whose user authenticates with ``token``."""
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "c", "cluster": {"server": server}}],
            "users": [{"name": "u", "user": {"token": token}}],
            "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
            "current-context": "c",
        }
    )


def closed_port() -> int:
    """A port nothing listens on (bound and released: connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# a server that echoes credentials back ---------------------------------------------------------


class EchoServer:
    """Answers every request with ``status`` and a body that quotes the request's headers.

    Stands for a dashboard or an API server that is careless with what it was sent: the
    Authorization headers come back as is, JSON-escaped, URL-encoded and in a Python repr, inside
    a Kubernetes ``Status`` object.
    """

    def __init__(self) -> None:
        self.status = 401
        echo = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                auth = " ".join(
                    str(self.headers.get(h) or "") for h in ("Authorization", "x-ray-authorization")
                )
                body = json.dumps(
                    {
                        "kind": "Status",
                        "apiVersion": "v1",
                        "status": "Failure",
                        "code": echo.status,
                        "reason": "Unauthorized",
                        "message": f"refused {auth} ({quote_plus(auth)}) {auth!r}",
                        "details": {"headers": dict(self.headers.items())},
                    }
                ).encode()
                self.send_response(echo.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("WWW-Authenticate", f'Bearer error="{auth}"')
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = _answer

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> EchoServer:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def echo() -> Iterator[EchoServer]:
    with EchoServer() as server:
        yield server


@pytest.fixture(scope="module")
def fake_kube() -> Iterator[FakeKubeServer]:
    with FakeKubeServer(operator=True, ray_heads=False, scenario=Scenario()) as fake:
        yield fake


@pytest.fixture(scope="module")
def host() -> Iterator[ProviderHost]:
    with ProviderHost() as started:
        yield started


# inputs ------------------------------------------------------------------------------------------


def serve_props(dashboard: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "app": APP,
        "dashboard": dashboard,
        "token": CANARY,
        "timeout_s": 2,
        PROVIDER_KEY: provider_input(ServeApplicationProvider()),
        **extra,
    }


def serve_outputs(dashboard: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """What state would hold after a create (the inputs Read/Update/Delete get)."""
    return {**serve_props(dashboard, **extra), "app_name": APP["name"], "deployed_app": APP}


def cluster_props(kube: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "spec": sample_cluster_spec(),
        "namespace": "default",
        "name": "canary-cluster",
        "resource_name": "canary",
        "auto_named": False,
        "kube": kube,
        "redis_password": CANARY,
        "timeout_s": 2,
        "wait_for_dashboard": False,
        PROVIDER_KEY: provider_input(RayClusterProvider()),
        **extra,
    }


# the paths ---------------------------------------------------------------------------------------

Call = Callable[[ProviderHost, dict[str, str]], None]


def serve_call(method: str, dashboard: Callable[[dict[str, str]], dict[str, Any]]) -> Call:
    def call(host: ProviderHost, where: dict[str, str]) -> None:
        urn = urn_of(APP_TYPE, "canary")
        target = dashboard(where)
        if method == "create":
            host.create(urn, serve_props(target))
        elif method == "update":
            host.update(urn, "id", serve_outputs(target), serve_props(target))
        elif method == "read":
            host.read(urn, "id", serve_outputs(target), serve_props(target))
        else:
            host.delete(urn, "id", serve_outputs(target))

    return call


def cluster_call(method: str, server: Callable[[dict[str, str]], str]) -> Call:
    def call(host: ProviderHost, where: dict[str, str]) -> None:
        urn = urn_of(CLUSTER_TYPE, "canary")
        props = cluster_props({"content": kubeconfig(server(where))})
        outputs = {**props, "uid": "0000"}
        if method == "create":
            host.create(urn, props)
        elif method == "update":
            host.update(urn, "default/canary-cluster", outputs, props)
        elif method == "read":
            host.read(urn, "default/canary-cluster", outputs, props)
        else:
            host.delete(urn, "default/canary-cluster", outputs)

    return call


def api_cluster_call(method: str, server: Callable[[dict[str, str]], str]) -> Call:
    """A RayCluster through the KubeRay API server, its security proxy token the canary."""

    def call(host: ProviderHost, where: dict[str, str]) -> None:
        urn = urn_of(CLUSTER_TYPE, "canary")
        props = {**cluster_props({}), "api_server": {"url": server(where), "token": CANARY}}
        props.pop("kube")
        outputs = {**props, "uid": "0000"}
        if method == "create":
            host.create(urn, props)
        elif method == "read":
            host.read(urn, "default/canary-cluster", outputs, props)
        else:
            host.delete(urn, "default/canary-cluster", outputs)

    return call


def template_call(method: str, server: Callable[[dict[str, str]], str]) -> Call:
    """A compute template on the KubeRay API server, its security proxy token the canary."""

    def call(host: ProviderHost, where: dict[str, str]) -> None:
        urn = urn_of(TEMPLATE_TYPE, "canary")
        props = {
            "template": {"cpu": 1, "memory": 1},
            "name": "canary",
            "namespace": "default",
            "api_server": {"url": server(where), "token": CANARY},
            PROVIDER_KEY: provider_input(KubeRayComputeTemplateProvider()),
        }
        if method == "create":
            host.create(urn, props)
        elif method == "read":
            host.read(urn, "default/canary", props, props)
        else:
            host.delete(urn, "default/canary", props)

    return call


def by_api_server(key: str) -> Callable[[dict[str, str]], dict[str, Any]]:
    return lambda where: {
        "service": "canary-head-svc",
        "namespace": "default",
        "port": "dashboard",
        "api_server": {"url": where[key], "token": CANARY},
        "cluster": "canary",
    }


def by_url(key: str) -> Callable[[dict[str, str]], dict[str, Any]]:
    return lambda where: {"url": where[key]}


def by_proxy(key: str) -> Callable[[dict[str, str]], dict[str, Any]]:
    return lambda where: {
        "service": "canary-head-svc",
        "namespace": "default",
        "port": "dashboard",
        "kube": {"content": kubeconfig(where[key])},
    }


METHODS = ("create", "update", "read", "delete")
PATHS: list[tuple[str, Call, int]] = [
    *[(f"serve-{m}-refused", serve_call(m, by_url("closed")), 0) for m in METHODS],
    *[(f"serve-{m}-echo-401", serve_call(m, by_url("echo")), 401) for m in METHODS],
    ("serve-create-echo-403", serve_call("create", by_url("echo")), 403),
    ("serve-create-echo-400", serve_call("create", by_url("echo")), 400),
    ("serve-read-echo-500", serve_call("read", by_url("echo")), 500),
    *[(f"serve-{m}-proxy-echo-401", serve_call(m, by_proxy("echo")), 401) for m in METHODS],
    ("serve-read-proxy-echo-403", serve_call("read", by_proxy("echo")), 403),
    ("serve-read-proxy-echo-400", serve_call("read", by_proxy("echo")), 400),
    ("serve-read-proxy-refused", serve_call("read", by_proxy("closed")), 0),
    ("serve-read-proxy-bad-token", serve_call("read", by_proxy("fake_kube")), 0),
    *[(f"cluster-{m}-refused", cluster_call(m, lambda w: w["closed"]), 0) for m in METHODS],
    *[(f"cluster-{m}-echo-401", cluster_call(m, lambda w: w["echo"]), 401) for m in METHODS],
    ("cluster-create-echo-403", cluster_call("create", lambda w: w["echo"]), 403),
    ("cluster-create-echo-400", cluster_call("create", lambda w: w["echo"]), 400),
    ("cluster-read-echo-500", cluster_call("read", lambda w: w["echo"]), 500),
    ("cluster-create-bad-token", cluster_call("create", lambda w: w["fake_kube"]), 0),
    ("cluster-read-bad-token", cluster_call("read", lambda w: w["fake_kube"]), 0),
    *[(f"serve-{m}-apiserver-echo-401", serve_call(m, by_api_server("echo")), 401)
      for m in METHODS],
    ("serve-read-apiserver-echo-404", serve_call("read", by_api_server("echo")), 404),
    ("serve-read-apiserver-refused", serve_call("read", by_api_server("closed")), 0),
    *[(f"cluster-{m}-apiserver-echo-401", api_cluster_call(m, lambda w: w["echo"]), 401)
      for m in ("create", "read", "delete")],
    ("cluster-create-apiserver-echo-500", api_cluster_call("create", lambda w: w["echo"]), 500),
    *[(f"template-{m}-apiserver-echo-401", template_call(m, lambda w: w["echo"]), 401)
      for m in ("create", "read", "delete")],
    ("template-create-apiserver-echo-409", template_call("create", lambda w: w["echo"]), 409),
    ("template-read-apiserver-refused", template_call("read", lambda w: w["closed"]), 0),
]  # fmt: skip


@pytest.fixture
def where(echo: EchoServer, fake_kube: FakeKubeServer) -> dict[str, str]:
    return {
        "echo": echo.url,
        "closed": f"http://127.0.0.1:{closed_port()}",
        "fake_kube": fake_kube.url,
    }


@pytest.mark.parametrize(
    ("call", "status"), [(c, s) for _, c, s in PATHS], ids=[i for i, _, _ in PATHS]
)
def test_provider_errors_through_the_host_never_show_the_canary(
    host: ProviderHost, echo: EchoServer, where: dict[str, str], call: Call, status: int
) -> None:
    echo.status = status or 401
    with pytest.raises(ProviderError) as caught:
        call(host, where)
    details = caught.value.details
    assert "Traceback" in details  # the whole traceback the host sends back, chained ones too
    assert_clean(details)


CHECKS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "serve-bad-app",
        APP_TYPE,
        {"app": {"name": 1}, "dashboard": {"url": "http://x"}, "token": CANARY},
    ),
    (
        "serve-token-list",
        APP_TYPE,
        {"app": APP, "dashboard": {"url": "http://x"}, "token": [CANARY]},
    ),
    (
        "serve-token-newline",
        APP_TYPE,
        {"app": APP, "dashboard": {"url": "http://x"}, "token": CANARY + "\n"},
    ),
    (
        "serve-token-in-dashboard",
        APP_TYPE,
        {"app": APP, "dashboard": {"url": "ftp://x", "token": CANARY}},
    ),
    (
        "serve-token-number-app",
        APP_TYPE,
        {
            "app": {**APP, "user_config": {"k": CANARY}, "bad": 1},
            "dashboard": {"url": "http://x"},
            "token": CANARY,
            "secret_paths": [["user_config"]],
        },
    ),
    (
        "serve-kube-content-broken",
        APP_TYPE,
        {
            "app": APP,
            "dashboard": {"service": "s", "kube": {"content": "users: [{token: " + CANARY}},
        },
    ),
    (
        "serve-kube-content-typo",
        APP_TYPE,
        {
            "app": APP,
            "dashboard": {
                "service": "s",
                "kube": {"content": kubeconfig("http://x"), "contxt": "c"},
            },
        },
    ),
    (
        "cluster-bad-spec",
        CLUSTER_TYPE,
        {"spec": {"headGroupSpec": CANARY}, "resource_name": "c", "redis_password": CANARY},
    ),
    (
        "cluster-password-in-spec",
        CLUSTER_TYPE,
        {
            "spec": {
                **sample_cluster_spec(),
                "gcsFaultToleranceOptions": {
                    "redisAddress": 5,
                    "redisPassword": {"value": CANARY, "x": 1},
                },
            },
            "resource_name": "c",
        },
    ),
    (
        "cluster-password-list",
        CLUSTER_TYPE,
        {"spec": sample_cluster_spec(), "resource_name": "c", "redis_password": [CANARY]},
    ),
    (
        "cluster-kube-string",
        CLUSTER_TYPE,
        {"spec": sample_cluster_spec(), "resource_name": "c", "kube": CANARY},
    ),
]


@pytest.mark.parametrize(
    ("typ", "news"), [(t, n) for _, t, n in CHECKS], ids=[i for i, _, _ in CHECKS]
)
def test_check_and_diff_never_show_the_canary(
    host: ProviderHost, typ: str, news: dict[str, Any]
) -> None:
    provider = ServeApplicationProvider() if typ == APP_TYPE else RayClusterProvider()
    props = {**news, PROVIDER_KEY: provider_input(provider)}
    urn = urn_of(typ, "canary")
    texts: list[str] = []
    try:
        outcome = host.check(urn, {}, props)
        texts += [f"{p}: {r}" for p, r in outcome.failures]
    except ProviderError as error:
        texts.append(error.details)
    try:
        host.diff(urn, "id", props, props)
    except ProviderError as error:
        texts.append(error.details)
    assert_clean(*texts)


def test_the_host_log_never_shows_the_canary(host: ProviderHost, where: dict[str, str]) -> None:
    """Last in the module: everything the host printed (engine diagnostics) is clean.

    A delete with ``drain_s`` logs a line naming the app first; once it shows, everything the
    earlier calls printed has been read (the host's stderr is one ordered stream).
    """
    marker = "log_marker_app"
    props = serve_outputs({"url": where["closed"]}, drain_s=0.01, app={**APP, "name": marker})
    with pytest.raises(ProviderError):
        host.delete(urn_of(APP_TYPE, "marker"), "id", props)
    deadline = threading.Event()
    for _ in range(200):
        if marker in host.log:
            break
        deadline.wait(0.05)
    assert marker in host.log
    assert_clean(host.log)


# in-process: log records and pulumi.log lines ----------------------------------------------------


@pytest.fixture
def pulumi_log(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    lines: list[str] = []
    for level in ("debug", "info", "warn", "error"):
        monkeypatch.setattr(
            pulumi.log, level, lambda msg, *_a, _l=level, **_k: lines.append(f"{_l}: {msg}")
        )
    return lines


IN_PROCESS: list[tuple[str, Callable[[dict[str, str]], None]]] = [
    (
        "serve-create-echo",
        lambda w: ServeApplicationProvider().create(serve_props({"url": w["echo"]})),
    ),
    (
        "serve-delete-drain-refused",
        lambda w: ServeApplicationProvider().delete(
            "id", serve_outputs({"url": w["closed"]}, drain_s=0.01)
        ),
    ),
    (
        "serve-read-proxy-echo",
        lambda w: ServeApplicationProvider().read("id", serve_outputs(by_proxy("echo")(w))),
    ),
    (
        "cluster-create-echo",
        lambda w: RayClusterProvider().create(cluster_props({"content": kubeconfig(w["echo"])})),
    ),
    (
        "cluster-delete-echo",
        lambda w: RayClusterProvider().delete(
            "id", {**cluster_props({"content": kubeconfig(w["echo"])}), "uid": "1"}
        ),
    ),
    (
        "cluster-create-bad-token",
        lambda w: RayClusterProvider().create(
            cluster_props({"content": kubeconfig(w["fake_kube"])})
        ),
    ),
]


@pytest.mark.parametrize("call", [c for _, c in IN_PROCESS], ids=[i for i, _ in IN_PROCESS])
def test_in_process_errors_and_logs_never_show_the_canary(
    call: Callable[[dict[str, str]], None],
    where: dict[str, str],
    echo: EchoServer,
    caplog: pytest.LogCaptureFixture,
    pulumi_log: list[str],
) -> None:
    echo.status = 401
    caplog.set_level("DEBUG")
    with pytest.raises(Exception) as caught:  # which one is not the point here
        call(where)
    error_text = "".join(traceback.format_exception(caught.value))
    assert_clean(error_text, repr(caught.value), caplog.text, *pulumi_log)
    assert all(MARK not in str(r.args) for r in caplog.records)


# the public models and the providers' input objects -----------------------------------------------

CONTENT = kubeconfig("https://127.0.0.1:6443")


def raises(build: Callable[[], Any]) -> BaseException:
    try:
        build()
    except Exception as error:
        return error
    raise AssertionError("expected a validation error")


MODEL_ERRORS: list[tuple[str, Callable[[], Any]]] = [
    ("dashboard-url-and-service", lambda: rs.Dashboard(url="http://x", service="s", token=CANARY)),
    ("dashboard-bad-url", lambda: rs.Dashboard(url="ftp://x", token=CANARY)),
    ("dashboard-token-list", lambda: rs.Dashboard(url="http://x", token=[CANARY])),
    ("dashboard-unknown-key", lambda: rs.Dashboard(url="http://x", tokn=CANARY)),
    (
        "dashboard-kube-and-url",
        lambda: rs.Dashboard(url="http://x", kube=rs.Kube(kubeconfig=CONTENT)),
    ),
    ("kube-content-and-in-cluster", lambda: rs.Kube(kubeconfig=CONTENT, in_cluster=True)),
    ("kube-content-list", lambda: rs.Kube(kubeconfig=[CONTENT])),
    ("kube-unknown-key", lambda: rs.Kube(kubeconfg=CONTENT)),
    (
        "gcs-two-passwords",
        lambda: GcsFaultTolerance(
            redis_address="r:6379", redis_password=CANARY, password_secret=("a", "b")
        ),
    ),
    (
        "gcs-password-list",
        lambda: GcsFaultTolerance(redis_address="r:6379", redis_password=[CANARY]),
    ),
    ("http-options-password-list", lambda: HTTPOptions(ssl_keyfile_password=[CANARY])),
    (
        "kube-load-broken-content",
        lambda: load_client_configuration({"content": "users: [{token: " + CANARY}),
    ),
    (
        "kube-load-missing-context",
        lambda: load_client_configuration({"content": CONTENT, "context": "nope"}),
    ),
    (
        "kube-load-no-cluster",
        lambda: load_client_configuration({"content": CONTENT.replace("clusters:", "clustrs:")}),
    ),
]


@pytest.mark.parametrize("build", [b for _, b in MODEL_ERRORS], ids=[i for i, _ in MODEL_ERRORS])
def test_validation_errors_never_show_the_canary(build: Callable[[], Any]) -> None:
    error = raises(build)
    assert_clean(str(error), repr(error), "".join(traceback.format_exception(error)))


def values() -> list[tuple[str, Any]]:
    """Every public model and internal input object that can hold the canary."""
    kube = rs.Kube(kubeconfig=CONTENT, context="c")
    dashboard_input = {
        "service": "s",
        "namespace": "n",
        "port": "dashboard",
        "kube": {"content": CONTENT},
    }
    serve = serve_outputs(
        dashboard_input, serve_options={"http_options": {"ssl_keyfile_password": CANARY}}
    )
    cluster = cluster_props({"content": CONTENT})
    gcs = GcsFaultTolerance(redis_address="r:6379", redis_password=CANARY)
    return [
        ("Dashboard", rs.Dashboard(url="http://127.0.0.1:8265", token=CANARY)),
        ("Dashboard.kube_proxy", rs.Dashboard.kube_proxy("s", kube=kube, token=CANARY)),
        ("Kube", kube),
        ("GcsFaultTolerance", gcs),
        (
            "ClusterSpec",
            rs.ClusterSpec(
                ray_version="2.52.0",
                head=rs.HeadGroup(compute=rs.ComputeTemplate(cpu=1, memory="2Gi")),
                gcs_fault_tolerance=gcs,
            ),
        ),
        ("HTTPOptions", HTTPOptions(ssl_keyfile_password=CANARY)),
        ("DashboardTarget", DashboardTarget.from_input(dashboard_input, CANARY)),
        ("AppInputs", AppInputs.parse(serve)),
        ("ClusterInputs", ClusterInputs.parse(cluster)),
        ("KubeProxyTransport", KubeProxyTransport(api_client({"content": CONTENT}))),
        (
            "DashboardClient",
            DashboardClient.for_target(
                DashboardTarget.from_input({"url": "http://127.0.0.1:8265"}, CANARY)
            ),
        ),
    ]


def test_reprs_and_strs_never_show_the_canary() -> None:
    for name, value in values():
        assert_clean(f"{name}: {value!r}", f"{name}: {value!s}")


def test_the_values_are_still_there_for_whoever_reads_the_attribute() -> None:
    assert rs.Dashboard(url="http://x", token=CANARY).token == CANARY
    assert rs.Kube(kubeconfig=CONTENT).kubeconfig == CONTENT
    assert isinstance(rs.Dashboard(url="http://x", token=CANARY).token, str)


# redaction itself --------------------------------------------------------------------------------

TRICKY = "tok'en\"wi\\th\n"


@pytest.mark.parametrize(
    "form",
    [
        TRICKY,
        TRICKY.strip(),
        repr(TRICKY)[1:-1],
        repr(TRICKY.strip())[1:-1],
        json.dumps(TRICKY)[1:-1],
        quote(TRICKY, safe=""),
        quote(TRICKY),
        quote_plus(TRICKY),
        quote_plus(TRICKY.strip()),
        repr(repr(TRICKY))[1:-1],
    ],
    ids=[
        "raw",
        "stripped",
        "repr",
        "repr-stripped",
        "json",
        "url",
        "url-path",
        "url-plus",
        "url-plus-stripped",
        "repr-of-repr",
    ],
)
def test_redact_covers_every_form(form: str) -> None:
    assert redact(f"before {form} after", [TRICKY]) == "before [secret] after"
    assert form in secret_forms(TRICKY) or form == TRICKY


def test_secrets_shorter_than_four_characters_are_left_alone() -> None:
    assert redact("abc abcd", ["abc"]) == "abc abcd"
    assert redact("abc abcd", ["abcd"]) == "abc [secret]"


def test_a_chained_exception_that_keeps_the_secret_is_cut_off() -> None:
    class Opaque(Exception):
        def __str__(self) -> str:
            return f"header was {CANARY}"

    with pytest.raises(RayServiceError) as caught, SecretsRedacted([CANARY]):
        try:
            raise Opaque()
        except Opaque as error:
            raise RayServiceError(f"call failed with {CANARY}") from error
    assert str(caught.value) == "call failed with [secret]"
    assert caught.value.__cause__ is None
    assert_clean("".join(traceback.format_exception(caught.value)))


def test_an_exception_whose_own_text_keeps_the_secret_is_replaced() -> None:
    class Opaque(Exception):
        def __str__(self) -> str:
            return f"header was {CANARY}"

    with pytest.raises(RayServiceError) as caught, SecretsRedacted([CANARY]):
        raise Opaque()
    assert str(caught.value) == "Opaque: header was [secret]"
    assert_clean("".join(traceback.format_exception(caught.value)))


def test_an_os_error_quoting_the_secret_as_file_name_is_redacted() -> None:
    with pytest.raises(OSError) as caught, SecretsRedacted([CANARY]):
        Path(f"/nonexistent/{CANARY}").read_text()
    assert_clean(str(caught.value), "".join(traceback.format_exception(caught.value)))


@pytest.mark.parametrize("cut", ["\u2026", "...", ""], ids=["ellipsis", "dots", "end-of-text"])
def test_a_secret_cut_short_where_the_text_is_cut_is_redacted(cut: str) -> None:
    body = json.dumps({"message": f"denied Bearer {CANARY}"})
    shortened = body[: body.index(MARK) + 4] + cut
    assert (
        redact(f"HTTP 401 {shortened}", [CANARY])
        == f'HTTP 401 {{"message": "denied Bearer [secret]{cut}'
    )


def test_a_secret_shown_only_partly_inside_other_text_is_left_alone() -> None:
    # Only a cut explains a partial secret; elsewhere a shared beginning is not the secret.
    assert redact("canary/s3 is a word", [CANARY]) == "canary/s3 is a word"
