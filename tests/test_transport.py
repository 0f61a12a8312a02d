"""Both transports as kubectl users expect them: TLS failures, kubeconfig settings, retries.

No Ray, no fake API server: small loopback servers (HTTPS with throwaway CAs, a forward proxy, a
recording HTTP server) stand where the dashboard or the API server would, and each test checks
what reached them: how many connections a TLS failure cost, which path a proxy request took,
how often an exec credential plugin ran.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from rayservice_testbed.fake_kube import FakeKubeServer
from rayservice_testbed.harness.scripted_http import ScriptedServer, scripted_server
from rayservice_testbed.harness.stalled_server import StallingDashboard
from rayservice_testbed.harness.tls import make_certs, server_context
from urllib3.util.ssl_ import create_urllib3_context

from pulumi_rayservice._util.polling import Deadline
from pulumi_rayservice._util.retry import RetryPolicy
from pulumi_rayservice.errors import (
    DashboardError,
    DashboardTLSError,
    DashboardUnreachableError,
    KubeConfigError,
    KubeTemporaryError,
    KubeTLSError,
    RayServiceError,
)
from pulumi_rayservice.kube.client import RAY_CLUSTER, KubeClient
from pulumi_rayservice.kube.config import api_client
from pulumi_rayservice.serve.client import DashboardClient
from pulumi_rayservice.serve.dashboard import DashboardTarget
from pulumi_rayservice.serve.provider import ServeApplicationProvider

EMPTY_APPS: dict[str, Any] = {"applications": {}, "controller_info": {}}
APPS_ANSWER = (200, EMPTY_APPS, {})
FAST = RetryPolicy(attempts=4, initial_s=0.05, max_s=0.1)
PROXY_APPS = "/api/v1/namespaces/ray/services/x-head-svc:dashboard/proxy/api/serve/applications/"


def kubeconfig(path: Path, server: str, user: dict[str, Any] | None = None, **cluster: Any) -> Path:
    """A kubeconfig for ``server`` with extra cluster fields; a bearer token user by default."""
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server, **cluster}}],
                "users": [{"name": "u", "user": user or {"token": "kube-token"}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "c",
            }
        ),
        encoding="utf-8",
    )
    return path


def proxy_client(kube_path: Path, **target: Any) -> DashboardClient:
    data = {"service": "x-head-svc", "namespace": "ray", "kube": {"path": str(kube_path)}}
    return DashboardClient.for_target(DashboardTarget.from_input({**data, **target}), retry=FAST)


# TLS ------------------------------------------------------------------------------------------


def test_an_untrusted_dashboard_certificate_fails_at_once_without_retries(tmp_path: Path) -> None:
    certs = make_certs(tmp_path / "certs", ip=True)
    with scripted_server(then=APPS_ANSWER, tls=server_context(certs)) as server:
        client = DashboardClient.for_target(
            DashboardTarget.from_input({"url": server.url}), retry=FAST
        )
        with pytest.raises(DashboardTLSError) as caught:
            client.get_applications()

    assert server.connections == 1  # not retried: a retry fails the same way
    assert "certificate verify failed" in str(caught.value)
    assert not isinstance(caught.value, DashboardUnreachableError)


def test_a_wrong_ca_in_the_kubeconfig_fails_the_proxy_call_without_retries(tmp_path: Path) -> None:
    certs = make_certs(tmp_path / "server", ip=True)
    other = make_certs(tmp_path / "other", ip=True)
    with scripted_server(then=APPS_ANSWER, tls=server_context(certs)) as server:
        kube = kubeconfig(tmp_path / "kc", server.url, **{"certificate-authority": str(other.ca)})
        with pytest.raises(DashboardTLSError) as caught:
            proxy_client(kube).get_applications()

    assert server.connections == 1
    assert "TLS failed" in str(caught.value)


def test_a_wrong_ca_fails_kubernetes_calls_without_retries(tmp_path: Path) -> None:
    certs = make_certs(tmp_path / "server", ip=True)
    other = make_certs(tmp_path / "other", ip=True)
    with scripted_server(tls=server_context(certs)) as server:
        kube = kubeconfig(tmp_path / "kc", server.url, **{"certificate-authority": str(other.ca)})
        with KubeClient({"path": str(kube)}, FAST) as client, pytest.raises(KubeTLSError) as caught:
            client.get(RAY_CLUSTER, "ray", "x")

    assert server.connections == 1
    assert "certificate-authority" in str(caught.value)


def test_the_kubeconfigs_tls_server_name_is_honoured_for_the_proxy(tmp_path: Path) -> None:
    # The certificate names only kubernetes.internal, not 127.0.0.1 (an API server behind a
    # tunnel or a load balancer): kubectl connects with tls-server-name, and so must we.
    certs = make_certs(tmp_path / "certs", dns_names=("kubernetes.internal",))
    with scripted_server(then=APPS_ANSWER, tls=server_context(certs)) as server:
        plain = kubeconfig(
            tmp_path / "plain", server.url, **{"certificate-authority": str(certs.ca)}
        )
        named = kubeconfig(
            tmp_path / "named",
            server.url,
            **{"certificate-authority": str(certs.ca), "tls-server-name": "kubernetes.internal"},
        )
        with pytest.raises(DashboardTLSError):
            proxy_client(plain).get_applications()
        assert proxy_client(named).get_applications() == EMPTY_APPS

    assert server.lines == [f"GET {PROXY_APPS}"]


def strict_by_default() -> bool:
    """Whether this Python's urllib3 verifies strictly (RFC 5280) by default: 3.13 and later."""
    return bool(create_urllib3_context().verify_flags & ssl.VERIFY_X509_STRICT)


def test_a_cluster_ca_without_key_identifiers_is_trusted_as_kubectl_trusts_it(
    tmp_path: Path,
) -> None:
    # Older EKS and GKE clusters: a bare self-signed CA, a server certificate with no Authority
    # Key Identifier. kubectl accepts it; on Python 3.13 a default urllib3 context does not.
    certs = make_certs(tmp_path / "certs", ip=True, legacy=True)
    with scripted_server(then=APPS_ANSWER, tls=server_context(certs)) as server:
        kube = kubeconfig(tmp_path / "kc", server.url, **{"certificate-authority": str(certs.ca)})
        assert proxy_client(kube).get_applications() == EMPTY_APPS
        with KubeClient({"path": str(kube)}, FAST) as client:
            client.get(RAY_CLUSTER, "ray", "x")  # no KubeTLSError: the request reached it

    assert server.lines == [f"GET {PROXY_APPS}", "GET /apis/ray.io/v1/namespaces/ray/rayclusters/x"]


def test_a_cluster_ca_without_key_identifiers_is_still_verified(tmp_path: Path) -> None:
    certs = make_certs(tmp_path / "server", ip=True, legacy=True)
    other = make_certs(tmp_path / "other", ip=True, legacy=True)
    named = make_certs(tmp_path / "named", dns_names=("kubernetes.internal",), legacy=True)
    with scripted_server(then=APPS_ANSWER, tls=server_context(certs)) as server:
        kube = kubeconfig(tmp_path / "kc", server.url, **{"certificate-authority": str(other.ca)})
        with pytest.raises(DashboardTLSError):
            proxy_client(kube).get_applications()
    with scripted_server(then=APPS_ANSWER, tls=server_context(named)) as server:
        kube = kubeconfig(tmp_path / "kn", server.url, **{"certificate-authority": str(named.ca)})
        with pytest.raises(DashboardTLSError):  # the name is checked: 127.0.0.1 is not on it
            proxy_client(kube).get_applications()
    assert server.lines == []


def test_insecure_skip_tls_verify_is_honoured_as_kubectl_honours_it(tmp_path: Path) -> None:
    certs = make_certs(tmp_path / "certs", dns_names=("elsewhere.internal",))
    with scripted_server(then=APPS_ANSWER, tls=server_context(certs)) as server:
        kube = kubeconfig(tmp_path / "kc", server.url, **{"insecure-skip-tls-verify": True})
        assert proxy_client(kube).get_applications() == EMPTY_APPS


def test_a_dashboard_certificate_strict_python_refuses_says_why_and_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # At its own https:// URL a dashboard is verified as Python verifies any web server (the
    # system's trust store, or REQUESTS_CA_BUNDLE): strictly on 3.13 and later, where the error
    # names the missing extension and the ways out.
    certs = make_certs(tmp_path / "certs", ip=True, legacy=True)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certs.ca))
    with scripted_server(then=APPS_ANSWER, tls=server_context(certs)) as server:
        client = DashboardClient.for_target(
            DashboardTarget.from_input({"url": server.url}), retry=FAST
        )
        if not strict_by_default():
            assert client.get_applications() == EMPTY_APPS
            return
        with pytest.raises(DashboardTLSError) as caught:
            client.get_applications()
    message = str(caught.value)
    assert "missing authority key identifier" in message.lower()
    assert "verifies certificates strictly" in message
    assert "through the Kubernetes API server" in message
    assert server.connections == 1


# proxy-url and path escaping -------------------------------------------------------------------


@pytest.fixture
def recorder() -> Iterator[ScriptedServer]:
    """A server that answers as a Serve with no apps and records request lines (a proxy too)."""
    with scripted_server(then=APPS_ANSWER) as server:
        yield server


def test_the_kubeconfigs_proxy_url_carries_dashboard_calls(
    recorder: ScriptedServer, tmp_path: Path
) -> None:
    # The API server's name resolves nowhere: only through the proxy can the call succeed.
    api = "http://kube-api.invalid:6443"
    kube = kubeconfig(tmp_path / "kc", api, **{"proxy-url": recorder.url})

    assert proxy_client(kube).get_applications() == EMPTY_APPS
    assert recorder.lines == [f"GET {api}{PROXY_APPS}"]


@pytest.mark.parametrize(
    ("field", "value", "escaped"),
    [
        ("namespace", "ray/../kube-system", "ray%2F..%2Fkube-system"),
        ("service", "x/../../secrets", "x%2F..%2F..%2Fsecrets"),
        ("port", "dashboard/../../../api", "dashboard%2F..%2F..%2F..%2Fapi"),
    ],
)
def test_target_names_are_escaped_into_one_path_segment(
    recorder: ScriptedServer, tmp_path: Path, field: str, value: str, escaped: str
) -> None:
    kube = kubeconfig(tmp_path / "kc", recorder.url)
    target = {"service": "x-head-svc", "namespace": "ray", "port": "dashboard", field: value}

    proxy_client(kube, **target).get_applications()

    [line] = recorder.lines
    assert escaped in line
    assert "/../" not in line


@pytest.mark.parametrize("value", [".", ".."])
def test_dot_segments_are_refused_before_anything_is_sent(
    recorder: ScriptedServer, tmp_path: Path, value: str
) -> None:
    kube = kubeconfig(tmp_path / "kc", recorder.url)

    with pytest.raises(DashboardError, match="proxy path"):
        proxy_client(kube, namespace=value)

    assert recorder.lines == []


# the one retry policy -------------------------------------------------------------------------


def test_a_429_is_retried_after_its_retry_after() -> None:
    server = ScriptedServer([(429, {"msg": "busy"}, {"Retry-After": "1"})], then=APPS_ANSWER)
    try:
        client = DashboardClient.for_target(
            DashboardTarget.from_input({"url": server.url}), retry=FAST
        )
        assert client.get_applications() == EMPTY_APPS
    finally:
        server.close()
    first, second = server.times
    assert second - first >= 1.0  # Retry-After, not the 0.05 s backoff


def test_retries_stop_at_the_deadline_not_at_the_attempt_count() -> None:
    server = ScriptedServer([(503, {"msg": "busy"}, {})] * 50, then=APPS_ANSWER)
    policy = RetryPolicy(attempts=50, initial_s=0.2, max_s=0.2)
    try:
        client = DashboardClient.for_target(
            DashboardTarget.from_input({"url": server.url}), retry=policy
        )
        with pytest.raises(DashboardUnreachableError, match="HTTP 503"):
            client.get_applications(deadline=Deadline(1.0))
    finally:
        server.close()
    assert 2 <= len(server.times) <= 6  # every 0.2 s for one second, not 50 tries


def test_a_4xx_other_than_429_is_not_retried() -> None:
    server = ScriptedServer([(418, {"msg": "teapot"}, {})], then=APPS_ANSWER)
    try:
        client = DashboardClient.for_target(
            DashboardTarget.from_input({"url": server.url}), retry=FAST
        )
        with pytest.raises(DashboardError, match="418"):
            client.get_applications()
    finally:
        server.close()
    assert len(server.times) == 1


# exec credential plugins ----------------------------------------------------------------------

EXEC_PLUGIN = """
import json, pathlib, sys, time
runs = pathlib.Path(sys.argv[1])
earlier = runs.read_text().count("ran") if runs.exists() else 0
runs.open("a").write("ran\\n")
hang = runs.parent / "hang-after-first"
time.sleep(float(hang.read_text()) if earlier and hang.exists() else float(sys.argv[2]))
status = {"token": "exec-token", "expirationTimestamp": sys.argv[3]}
print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
                  "status": status}))
"""


def exec_kubeconfig(
    tmp_path: Path, server: str, sleep_s: float, expires: str = "2099-01-01T00:00:00Z"
) -> tuple[Path, Path]:
    script = tmp_path / "plugin.py"
    script.write_text(EXEC_PLUGIN, encoding="utf-8")
    runs = tmp_path / "runs.txt"
    plugin = {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "command": sys.executable,
        "args": [str(script), str(runs), str(sleep_s), expires],
        "interactiveMode": "Never",
    }
    path = kubeconfig(tmp_path / "kc", server, user={"exec": plugin})
    return path, runs


def test_an_exec_plugin_runs_once_per_client_and_its_token_is_sent(
    recorder: ScriptedServer, tmp_path: Path
) -> None:
    kube, runs = exec_kubeconfig(tmp_path, recorder.url, sleep_s=0)
    client = proxy_client(kube)

    for _ in range(3):
        client.get_applications()

    assert runs.read_text().count("ran") == 1  # cached until it expires, as kubectl does
    assert len(recorder.lines) == 3


def test_an_exec_plugin_that_hangs_fails_within_its_bound(tmp_path: Path) -> None:
    kube, _runs = exec_kubeconfig(tmp_path, "http://127.0.0.1:9", sleep_s=60)
    start = time.monotonic()

    with pytest.raises(KubeConfigError, match="exec credential plugin"):
        api_client({"path": str(kube)}, load_within_s=1.0)

    assert time.monotonic() - start < 10


# what the review of the bounds found ------------------------------------------------------------


def test_a_cut_in_the_middle_of_the_headers_is_no_answer_not_a_short_reply() -> None:
    # http.client takes the end of the stream for the end of the headers: a 200 without a body
    # would come back if the cut were not checked.
    dashboard = StallingDashboard("trickle", {"GET"}, every_s=0.02)
    try:
        client = DashboardClient.for_target(
            DashboardTarget.from_input({"url": dashboard.url}), retry=FAST
        )
        with pytest.raises(DashboardUnreachableError, match="no complete answer"):
            client.get_applications(deadline=Deadline(1.0))
    finally:
        dashboard.close()


@pytest.mark.parametrize("read", ["custom object", "typed object"])
def test_a_kubernetes_answer_cut_in_its_headers_is_no_answer(tmp_path: Path, read: str) -> None:
    # A typed answer (a Lease) is validated by the client: the cut body must not surface as a
    # validation error of the answer, nor a custom object as an empty one.
    with FakeKubeServer(operator=False, ray_heads=False) as fake:
        fake.trickle(0.02, count=10)
        kube = fake.write_kubeconfig(tmp_path / "kc")
        client = KubeClient({"path": str(kube)}, FAST, deadline=Deadline(1.0))
        with client, pytest.raises(KubeTemporaryError, match="no complete answer"):
            if read == "custom object":
                client.get(RAY_CLUSTER, "default", "x")
            else:
                client.get_lease("default", "x")


def test_a_negative_retry_after_is_waited_as_zero(tmp_path: Path) -> None:
    with FakeKubeServer(operator=False, ray_heads=False) as fake:
        fake.inject(429, retry_after=-1)
        kube = fake.write_kubeconfig(tmp_path / "kc")
        with KubeClient({"path": str(kube)}, FAST) as client:
            assert client.get(RAY_CLUSTER, "default", "x") is None  # retried, then 404
        assert fake.count("GET", "/rayclusters/x") == 2


def test_a_connection_closed_during_the_tls_handshake_is_retried() -> None:
    # A restarting server or a draining balancer: not a certificate problem.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[int] = []

    def close_after_hello() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(1)
            with contextlib.suppress(OSError):
                conn.recv(4096)
            conn.close()

    threading.Thread(target=close_after_hello, daemon=True).start()
    try:
        url = f"https://127.0.0.1:{listener.getsockname()[1]}"
        client = DashboardClient.for_target(DashboardTarget.from_input({"url": url}), retry=FAST)
        with pytest.raises(DashboardUnreachableError, match="TLS handshake"):
            client.get_applications()
    finally:
        listener.close()
    assert len(accepted) == FAST.attempts


def test_a_token_file_with_a_newline_fails_without_quoting_the_token(
    recorder: ScriptedServer, tmp_path: Path
) -> None:
    token = "sa-token-0123456789abcdef"
    (tmp_path / "token").write_text(token + "\n", encoding="utf-8")
    kube = kubeconfig(tmp_path / "kc", recorder.url, user={"tokenFile": str(tmp_path / "token")})
    client = KubeClient({"path": str(kube)}, FAST)
    with client, pytest.raises(RayServiceError) as through_kube:
        client.get(RAY_CLUSTER, "default", "x")
    with pytest.raises(RayServiceError) as through_proxy:
        proxy_client(kube).get_applications()

    for caught in (through_kube, through_proxy):
        text = "".join(traceback.format_exception(caught.value))
        assert "newline" in text
        assert token not in text
    assert recorder.lines == []


def test_an_exec_plugin_that_hangs_on_refresh_is_bounded_by_the_request(
    recorder: ScriptedServer, tmp_path: Path
) -> None:
    # The first run hands out a token that has already expired: the first request refreshes it,
    # and that run hangs. Only the request's deadline ends it.
    kube, runs = exec_kubeconfig(tmp_path, recorder.url, sleep_s=0, expires="2000-01-01T00:00:00Z")
    runs.write_text("", encoding="utf-8")
    (tmp_path / "hang-after-first").write_text("60", encoding="utf-8")
    start = time.monotonic()

    client = KubeClient({"path": str(kube)}, FAST, deadline=Deadline(2.0))
    with client, pytest.raises(KubeConfigError, match="refreshing the kubeconfig's token"):
        client.get(RAY_CLUSTER, "default", "x")

    assert time.monotonic() - start < 10
    assert runs.read_text().count("ran") == 2
    assert recorder.lines == []


def test_a_stored_target_that_is_no_url_makes_diff_replace_not_raise() -> None:
    provider = ServeApplicationProvider()
    olds = {
        "app": {"name": "a", "import_path": "m:app"},
        "dashboard": {"url": "http://127.0.0.1:8265"},
        "target": "http://[::1",
    }
    news = {
        "app": {"name": "a", "import_path": "m:app"},
        "dashboard": {"url": "http://127.0.0.1:8265"},
    }

    diff = provider.diff("a@x", olds, news)

    assert "dashboard" in diff.replaces


# The KubeRay API server ---------------------------------------------------------------------------

TEMPLATE_ANSWER = (200, {"name": "t", "namespace": "ray", "cpu": 2, "memory": 4}, {})


def test_the_api_servers_ca_is_trusted_as_pem_text_or_a_file_and_a_wrong_one_is_not(
    tmp_path: Path,
) -> None:
    from pulumi_rayservice.kube.apiserver import ApiServerTarget
    from pulumi_rayservice.kube.apiserver_v1 import ApiServerV1Client

    certs = make_certs(tmp_path / "server", ip=True, legacy=True)  # kubectl's trust, on 3.13 too
    other = make_certs(tmp_path / "other", ip=True)
    with scripted_server(then=TEMPLATE_ANSWER, tls=server_context(certs)) as server:
        for ca in ({"ca_data": certs.ca.read_text()}, {"ca_file": str(certs.ca)}):
            target = ApiServerTarget.from_input({"url": server.url, "token": "tok-1", **ca})
            with ApiServerV1Client(target, retry=FAST) as v1:
                assert v1.get_template("ray", "t") == TEMPLATE_ANSWER[1]
        wrong = ApiServerTarget.from_input({"url": server.url, "ca_file": str(other.ca)})
        before = server.connections
        with ApiServerV1Client(wrong, retry=FAST) as v1, pytest.raises(KubeTLSError) as caught:
            v1.get_template("ray", "t")
        assert server.connections == before + 1  # never retried
        assert "certificate_authority" in str(caught.value)
        skipping = ApiServerTarget.from_input({"url": server.url, "insecure_skip_tls_verify": True})
        with ApiServerV1Client(skipping, retry=FAST) as v1:
            assert v1.get_template("ray", "t") == TEMPLATE_ANSWER[1]


def test_a_template_post_whose_answer_was_lost_is_sent_once_and_settled_by_reading(
    tmp_path: Path,
) -> None:
    from pulumi_rayservice.cluster.template_provider import KubeRayComputeTemplateProvider

    stored = {"name": "t", "namespace": "ray", "cpu": 2, "memory": 4, "memoryUnit": "Gi"}
    props = {
        "template": {"cpu": 2, "memory": 4},
        "name": "t",
        "namespace": "ray",
        "timeout_s": 10,
    }
    # The POST landed but its answer was a 503: it is not sent again; what is there is ours.
    with scripted_server([(503, {}, {}), (200, stored, {})]) as server:
        result = KubeRayComputeTemplateProvider().create(
            {**props, "api_server": {"url": server.url}}
        )
        assert [line.split()[0] for line in server.lines] == ["POST", "GET"]
    assert result.outs["stored"]["cpu"] == 2
    # What is there is not what was sent: said, not taken.
    other = [(503, {}, {}), (200, {**stored, "cpu": 8}, {})]
    with (
        scripted_server(other) as server,
        pytest.raises(KubeTemporaryError, match="may have been created"),
    ):
        KubeRayComputeTemplateProvider().create({**props, "api_server": {"url": server.url}})
