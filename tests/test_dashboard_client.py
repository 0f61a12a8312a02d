"""``DashboardClient`` against a small local HTTP server: checked by what was sent and raised.

No Ray and no Kubernetes: a stdlib ``ThreadingHTTPServer`` on loopback records every request and
answers from a per-test script. Retries use a tiny ``RetryPolicy`` so the whole file runs fast.
"""

from __future__ import annotations

import json
import socket
import threading
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import yaml

from pulumi_rayservice import __version__
from pulumi_rayservice.errors import (
    DashboardAuthError,
    DashboardError,
    DashboardGoneError,
    DashboardUnreachableError,
    KubeConfigError,
    ServeConfigRejectedError,
)
from pulumi_rayservice.kube.transport import DirectTransport
from pulumi_rayservice.serve.client import DashboardClient as Client
from pulumi_rayservice.serve.client import RetryPolicy
from pulumi_rayservice.serve.dashboard import DashboardTarget

TOKEN = "ray-s3cret-t0ken-123"
KUBE_TOKEN = "kube-secret-token"
FAST = RetryPolicy(attempts=3, initial_s=0.01, max_s=0.02, factor=2.0)
APPS_PATH = "/api/serve/applications/"
EMPTY_APPS: dict[str, Any] = {"applications": {}, "controller_info": {}}
CONFIG: dict[str, Any] = {"applications": [{"name": "a", "import_path": "m:app"}]}


@dataclass(frozen=True)
class Reply:
    """One scripted answer. ``drop``: close the connection without answering at all."""

    status: int = 200
    body: str | bytes | Mapping[str, Any] | list[Any] = b""
    content_type: str = "application/json"
    drop: bool = False
    headers: tuple[tuple[str, str], ...] = ()

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


@dataclass(frozen=True)
class Recorded:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # keys lower-cased
    body: bytes


@dataclass
class FakeDashboard:
    """A loopback HTTP server answering from ``script`` in order and recording every request."""

    port: int
    requests: list[Recorded] = field(default_factory=list)
    script: list[Reply] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def answer(self, *replies: Reply) -> None:
        with self.lock:
            self.script.extend(replies)

    def next_reply(self, recorded: Recorded) -> Reply:
        with self.lock:
            self.requests.append(recorded)
            if self.script:
                return self.script.pop(0)
        # Unscripted requests get an answer no test expects, so they show up as failures.
        return Reply(418, {"error": "no scripted reply left"})


def _handler(fake_ref: list[FakeDashboard]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            fake = fake_ref[0]
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            recorded = Recorded(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            reply = fake.next_reply(recorded)
            if reply.drop:
                self.close_connection = True
                return
            payload = reply.payload()
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_PUT = do_POST = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@pytest.fixture
def dashboard() -> Iterator[FakeDashboard]:
    ref: list[FakeDashboard] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(ref))
    server.daemon_threads = True
    ref.append(FakeDashboard(port=server.server_address[1]))
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield ref[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def client_for(url: str, token: str | None = TOKEN, retry: RetryPolicy = FAST) -> Client:
    target = DashboardTarget.from_input({"url": url, **({"token": token} if token else {})})
    return Client.for_target(target, retry=retry)


def error_text(error: BaseException) -> str:
    """Everything a user could read of an error: message, repr, chained causes, traceback."""
    return "".join(traceback.format_exception(error)) + repr(error) + repr(error.args)


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class CountingSession(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        self.calls += 1
        return super().request(*args, **kwargs)


# what is sent ---------------------------------------------------------------------------------


def test_get_applications_asks_for_every_app_at_the_exact_path(dashboard: FakeDashboard) -> None:
    dashboard.answer(Reply(200, EMPTY_APPS))

    assert client_for(dashboard.url).get_applications() == EMPTY_APPS

    [sent] = dashboard.requests
    # No api_type: ?api_type=declarative would hide the apps deployed with serve.run.
    assert (sent.method, sent.path, sent.query) == ("GET", APPS_PATH, {})
    assert sent.body == b""


def test_put_applications_sends_json_body_to_path_with_trailing_slash(
    dashboard: FakeDashboard,
) -> None:
    dashboard.answer(Reply(200, b""))

    client_for(dashboard.url).put_applications(CONFIG)

    [sent] = dashboard.requests
    assert (sent.method, sent.path, sent.query) == ("PUT", APPS_PATH, {})
    assert sent.headers["content-type"] == "application/json"
    assert json.loads(sent.body) == CONFIG


def test_base_url_trailing_slash_is_not_doubled(dashboard: FakeDashboard) -> None:
    dashboard.answer(Reply(200, EMPTY_APPS))

    client_for(dashboard.url + "/").get_applications()

    assert dashboard.requests[0].path == APPS_PATH


def test_no_browser_like_headers(dashboard: FakeDashboard) -> None:
    dashboard.answer(Reply(200, EMPTY_APPS), Reply(200, b""))
    client = client_for(dashboard.url)

    client.get_applications()
    client.put_applications(CONFIG)

    for sent in dashboard.requests:
        assert sent.headers["user-agent"] == f"pulumi-rayservice/{__version__}"
        assert "mozilla" not in sent.headers["user-agent"].lower()
        browser_like = [
            name
            for name in sent.headers
            if name in ("origin", "referer") or name.startswith("sec-fetch-")
        ]
        assert browser_like == []


def test_token_is_sent_as_x_ray_authorization(dashboard: FakeDashboard) -> None:
    dashboard.answer(Reply(200, EMPTY_APPS))

    client_for(dashboard.url).get_applications()

    sent = dashboard.requests[0]
    assert sent.headers["x-ray-authorization"] == f"Bearer {TOKEN}"
    # A direct URL target has no Kubernetes credential: nothing else carries a secret.
    assert "authorization" not in sent.headers


def test_no_token_no_auth_header(dashboard: FakeDashboard) -> None:
    dashboard.answer(Reply(200, EMPTY_APPS))

    client_for(dashboard.url, token=None).get_applications()

    assert "x-ray-authorization" not in dashboard.requests[0].headers


# retries ----------------------------------------------------------------------------------------


def test_503_then_200_succeeds_after_retries(dashboard: FakeDashboard) -> None:
    dashboard.answer(Reply(503, "starting"), Reply(503, "starting"), Reply(200, EMPTY_APPS))

    assert client_for(dashboard.url).get_applications() == EMPTY_APPS
    assert len(dashboard.requests) == 3


@pytest.mark.parametrize("status", [502, 504])
def test_gateway_errors_of_a_read_are_retried(dashboard: FakeDashboard, status: int) -> None:
    dashboard.answer(Reply(status, "bad gateway"), Reply(200, EMPTY_APPS))

    assert client_for(dashboard.url).get_applications() == EMPTY_APPS
    assert [r.method for r in dashboard.requests] == ["GET", "GET"]


@pytest.mark.parametrize("reply", [Reply(502, "bad gateway"), Reply(503, "x"), Reply(drop=True)])
def test_a_put_is_sent_once_and_its_lost_answer_may_have_applied(
    dashboard: FakeDashboard, reply: Reply
) -> None:
    # Its body was built from a read: a retry must read and merge again, never resend it.
    dashboard.answer(reply, Reply(200, b""))

    with pytest.raises(DashboardUnreachableError) as caught:
        client_for(dashboard.url).put_applications(CONFIG)

    assert [r.method for r in dashboard.requests] == ["PUT"]
    assert caught.value.maybe_applied is True
    assert caught.value.refused is False
    assert TOKEN not in error_text(caught.value)


def test_a_put_to_a_refused_port_is_known_not_applied() -> None:
    with pytest.raises(DashboardUnreachableError) as caught:
        client_for(f"http://127.0.0.1:{free_port()}").put_applications(CONFIG)

    assert caught.value.refused is True
    assert caught.value.maybe_applied is False


@pytest.mark.parametrize("status", [301, 302, 307, 308])
@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_a_redirect_is_an_error_naming_where_it_pointed(
    dashboard: FakeDashboard, status: int, method: str
) -> None:
    sso = (("Location", "https://login.example.com/sso"),)
    dashboard.answer(Reply(status, b"", headers=sso), Reply(200, EMPTY_APPS))
    client = client_for(dashboard.url)
    with pytest.raises(DashboardError) as caught:
        if method == "GET":
            client.get_applications()
        else:
            client.put_applications(CONFIG)

    assert f"HTTP {status} redirect to https://login.example.com/sso" in str(caught.value)
    assert len(dashboard.requests) == 1  # never followed, never retried
    assert TOKEN not in error_text(caught.value)


def test_503_every_time_gives_unreachable_after_all_attempts(dashboard: FakeDashboard) -> None:
    dashboard.answer(*[Reply(503, "still starting")] * FAST.attempts)

    with pytest.raises(DashboardUnreachableError) as caught:
        client_for(dashboard.url).get_applications()

    assert len(dashboard.requests) == FAST.attempts
    assert caught.value.refused is False
    assert "503" in str(caught.value)
    assert TOKEN not in error_text(caught.value)


def test_connection_closed_without_answer_is_retried(dashboard: FakeDashboard) -> None:
    dashboard.answer(Reply(drop=True), Reply(200, EMPTY_APPS))

    assert client_for(dashboard.url).get_applications() == EMPTY_APPS
    assert len(dashboard.requests) == 2


def test_connection_closed_every_time_is_unreachable_not_refused(
    dashboard: FakeDashboard,
) -> None:
    dashboard.answer(*[Reply(drop=True)] * FAST.attempts)

    with pytest.raises(DashboardUnreachableError) as caught:
        client_for(dashboard.url).get_applications()

    assert len(dashboard.requests) == FAST.attempts
    # The host answered at TCP level: something listens, so this is not "the cluster is gone".
    assert caught.value.refused is False
    assert TOKEN not in error_text(caught.value)


def test_connection_refused_is_unreachable_and_refused_after_all_attempts() -> None:
    port = free_port()
    session = CountingSession()
    client = Client(
        base_url=f"http://127.0.0.1:{port}",
        transport=DirectTransport(session=session),
        headers={"x-ray-authorization": f"Bearer {TOKEN}"},
        retry=FAST,
        description=f"http://127.0.0.1:{port}",
    )

    with pytest.raises(DashboardUnreachableError) as caught:
        client.get_applications()

    assert caught.value.refused is True
    assert session.calls == FAST.attempts
    assert f"after {FAST.attempts} attempts" in str(caught.value)
    assert TOKEN not in error_text(caught.value)


def test_connection_refused_through_for_target_keeps_token_out_of_error() -> None:
    client = client_for(f"http://127.0.0.1:{free_port()}")

    with pytest.raises(DashboardUnreachableError) as caught:
        client.put_applications(CONFIG)

    assert caught.value.refused is True
    assert TOKEN not in error_text(caught.value)


# errors that are not retried --------------------------------------------------------------------


def test_500_is_not_retried_and_quotes_a_short_flat_body(dashboard: FakeDashboard) -> None:
    body = "Internal   error:\n\n\tcontroller   crashed " + "x" * 2000
    dashboard.answer(Reply(500, body, content_type="text/plain"))

    with pytest.raises(DashboardError) as caught:
        client_for(dashboard.url).get_applications()

    assert type(caught.value) is DashboardError
    assert len(dashboard.requests) == 1
    message = str(caught.value)
    assert "HTTP 500" in message
    assert "Internal error: controller crashed x" in message
    assert "x" * 2000 not in message
    assert len(message) < 500
    assert "\n" not in message
    assert TOKEN not in error_text(caught.value)


def test_401_is_auth_error_token_missing(dashboard: FakeDashboard) -> None:
    dashboard.answer(Reply(401, "Unauthorized", content_type="text/plain"))

    with pytest.raises(DashboardAuthError) as caught:
        client_for(dashboard.url).get_applications()

    assert "token missing" in str(caught.value)
    assert len(dashboard.requests) == 1
    assert TOKEN not in error_text(caught.value)


def test_403_is_auth_error_token_refused(dashboard: FakeDashboard) -> None:
    dashboard.answer(Reply(403, "Forbidden", content_type="text/plain"))

    with pytest.raises(DashboardAuthError) as caught:
        client_for(dashboard.url).put_applications(CONFIG)

    assert "token refused" in str(caught.value)
    assert len(dashboard.requests) == 1
    assert TOKEN not in error_text(caught.value)


def test_400_on_put_is_config_rejected_with_serves_text(dashboard: FakeDashboard) -> None:
    serve_text = "Invalid config: applications.0.route_prefix   must start with '/'"
    dashboard.answer(Reply(400, serve_text, content_type="text/plain"))

    with pytest.raises(ServeConfigRejectedError) as caught:
        client_for(dashboard.url).put_applications(CONFIG)

    assert "applications.0.route_prefix must start with '/'" in str(caught.value)
    assert len(dashboard.requests) == 1
    assert TOKEN not in error_text(caught.value)


def test_400_on_get_is_not_a_config_rejection(dashboard: FakeDashboard) -> None:
    dashboard.answer(Reply(400, "bad request", content_type="text/plain"))

    with pytest.raises(DashboardError) as caught:
        client_for(dashboard.url).get_applications()

    assert not isinstance(caught.value, ServeConfigRejectedError)
    assert "HTTP 400" in str(caught.value)


def test_404_kubernetes_status_not_found_is_gone(dashboard: FakeDashboard) -> None:
    status = {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": 'services "x-head-svc" not found',
        "reason": "NotFound",
        "code": 404,
    }
    dashboard.answer(Reply(404, status))

    with pytest.raises(DashboardGoneError) as caught:
        client_for(dashboard.url).get_applications()

    assert len(dashboard.requests) == 1
    assert TOKEN not in error_text(caught.value)


@pytest.mark.parametrize(
    "body",
    [
        "404: Not Found",
        {"kind": "Status", "reason": "Forbidden"},
        {"detail": "Not Found"},
    ],
    ids=["text", "other-status-reason", "json-not-status"],
)
def test_plain_404_is_dashboard_error_not_gone(
    dashboard: FakeDashboard, body: str | dict[str, Any]
) -> None:
    dashboard.answer(Reply(404, body))

    with pytest.raises(DashboardError) as caught:
        client_for(dashboard.url).get_applications()

    assert not isinstance(caught.value, DashboardGoneError)
    assert "404" in str(caught.value)
    assert len(dashboard.requests) == 1


@pytest.mark.parametrize(
    "body", ["<html><body>Ray Dashboard</body></html>", "[1, 2]"], ids=["html", "list"]
)
def test_non_object_200_on_get_is_dashboard_error(dashboard: FakeDashboard, body: str) -> None:
    dashboard.answer(Reply(200, body, content_type="text/html"))

    with pytest.raises(DashboardError) as caught:
        client_for(dashboard.url).get_applications()

    assert type(caught.value) is DashboardError
    assert dashboard.url in str(caught.value)


# the Kubernetes API server's service proxy ------------------------------------------------------


def kubeconfig_text(server: str, token: str = KUBE_TOKEN) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "local", "cluster": {"server": server}}],
            "users": [{"name": "me", "user": {"token": token}}],
            "contexts": [{"name": "local", "context": {"cluster": "local", "user": "me"}}],
            "current-context": "local",
        }
    )


PROXY_PATH = "/api/v1/namespaces/ray/services/x-head-svc:dashboard/proxy" + APPS_PATH


def proxy_target(kube: Mapping[str, Any]) -> DashboardTarget:
    return DashboardTarget.from_input(
        {"service": "x-head-svc", "namespace": "ray", "kube": dict(kube), "token": TOKEN}
    )


def _assert_proxied(dashboard: FakeDashboard) -> None:
    [sent] = dashboard.requests
    assert (sent.method, sent.path, sent.query) == ("GET", PROXY_PATH, {})
    assert sent.headers["x-ray-authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["user-agent"] == f"pulumi-rayservice/{__version__}"


def kube_sources(server: str, tmp_path: Path) -> dict[str, dict[str, str]]:
    path = tmp_path / "kubeconfig"
    path.write_text(kubeconfig_text(server), encoding="utf-8")
    return {"path": {"path": str(path)}, "content": {"content": kubeconfig_text(server)}}


@pytest.mark.parametrize("source", ["path", "content"])
def test_proxy_target_goes_through_service_proxy(
    dashboard: FakeDashboard, tmp_path: Path, source: str
) -> None:
    dashboard.answer(Reply(200, EMPTY_APPS))
    kube = kube_sources(dashboard.url, tmp_path)[source]

    client = Client.for_target(proxy_target(kube), retry=FAST)

    assert client.get_applications() == EMPTY_APPS
    _assert_proxied(dashboard)


@pytest.mark.parametrize("source", ["path", "content"])
def test_proxy_target_sends_the_kubernetes_bearer_token(
    dashboard: FakeDashboard, tmp_path: Path, source: str
) -> None:
    dashboard.answer(Reply(200, EMPTY_APPS))
    kube = kube_sources(dashboard.url, tmp_path)[source]

    Client.for_target(proxy_target(kube), retry=FAST).get_applications()

    sent = dashboard.requests[0]
    assert sent.headers.get("authorization") == f"Bearer {KUBE_TOKEN}"
    assert sent.headers["x-ray-authorization"] == f"Bearer {TOKEN}"


def test_proxy_errors_keep_both_tokens_out(dashboard: FakeDashboard) -> None:
    dashboard.answer(Reply(403, "Forbidden", content_type="text/plain"))
    client = Client.for_target(
        proxy_target({"content": kubeconfig_text(dashboard.url)}), retry=FAST
    )

    with pytest.raises(DashboardAuthError) as caught:
        client.get_applications()

    text = error_text(caught.value)
    assert TOKEN not in text
    assert KUBE_TOKEN not in text
    assert "x-head-svc" in str(caught.value)


BROKEN_KUBECONFIGS = {
    "not-yaml": f"apiVersion: v1\nusers: [{{name: me, user: {{token: {KUBE_TOKEN}}}\n  - : :",
    "not-a-mapping": f"- apiVersion: v1\n- token: {KUBE_TOKEN}\n",
    "no-context": yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "users": [{"name": "me", "user": {"token": KUBE_TOKEN}}],
            "current-context": "missing-context",
        }
    ),
}


@pytest.mark.parametrize("content", BROKEN_KUBECONFIGS.values(), ids=BROKEN_KUBECONFIGS.keys())
def test_broken_kubeconfig_content_is_kube_config_error_without_secrets(content: str) -> None:
    with pytest.raises(KubeConfigError) as caught:
        Client.for_target(proxy_target({"content": content}), retry=FAST)

    text = error_text(caught.value)
    assert KUBE_TOKEN not in text
    assert TOKEN not in text
    assert content.strip() not in text
    assert "inline kubeconfig" in str(caught.value) or "kubeconfig content" in str(caught.value)


# Ray's state API: is a Serve controller alive? ------------------------------------------------


def actors_reply(*states: str, partial: str = "") -> Reply:
    actors = [
        {"class_name": "ServeController", "state": state, "name": "SERVE_CONTROLLER_ACTOR"}
        for state in states
    ]
    return Reply(
        200,
        {
            "result": True,
            "msg": "",
            "data": {
                "result": {
                    "total": len(actors),
                    "result": actors,
                    "partial_failure_warning": partial,
                    "warnings": None,
                }
            },
        },
    )


def test_serve_controller_states_asks_the_state_api_for_serve_controllers(
    dashboard: FakeDashboard,
) -> None:
    dashboard.answer(actors_reply("DEAD", "ALIVE"))

    assert client_for(dashboard.url).serve_controller_states() == ["DEAD", "ALIVE"]
    [sent] = dashboard.requests
    assert sent.path == "/api/v0/actors"
    assert sent.query["filter_keys"] == ["class_name"]
    assert sent.query["filter_predicates"] == ["="]
    assert sent.query["filter_values"] == ["ServeController"]
    assert sent.headers["x-ray-authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    "reply",
    [
        actors_reply("ALIVE", partial="2 of 3 nodes did not answer"),
        Reply(200, {"result": False, "msg": "GCS timed out", "data": {}}),
        Reply(200, {"unexpected": "shape"}),
    ],
)
def test_an_incomplete_state_api_answer_is_an_error(dashboard: FakeDashboard, reply: Reply) -> None:
    dashboard.answer(reply)

    with pytest.raises(DashboardError):
        client_for(dashboard.url).serve_controller_states()
