"""The deployer's read-merge-write, against Serve's REST API held in memory.

``FakeServe`` answers the four calls the deployer makes (``ServeApi``) the way Serve does: the
GET reports every app with its config as it was PUT (through JSON: nulls and ``1.0`` kept), a PUT
replaces the set of declarative apps (and, before Ray 2.12, the ``serve.run`` ones too), and every
PUT body is recorded. A test can act as another writer right after a PUT. No network, no lock
(the lock has its own tests): what is checked is what was sent, and when nothing was.

The real dashboard and the real writers are in ``tests/test_shared_cluster.py`` (needs Ray).
"""

from __future__ import annotations

import contextlib
import copy
import json
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from pulumi_rayservice._util.polling import Backoff, Deadline
from pulumi_rayservice.errors import (
    AppOwnershipError,
    ConcurrentWriterError,
    DashboardError,
    ImperativeAppsError,
    ServeDeployError,
    ServeStateUnknownError,
    UnsupportedRayError,
)
from pulumi_rayservice.serve.deployer import ServeApi, ServeDeployer
from pulumi_rayservice.serve.inputs import AppInputs
from pulumi_rayservice.serve.ownership import Claim
from pulumi_rayservice.serve.status import ApplicationStatus, DeploymentStatus

RUNNING = ApplicationStatus.RUNNING.value
SETTINGS = {"proxy_location": "EveryNode", "http_options": {"host": "0.0.0.0", "port": 8000}}


def exact(value: Any) -> str:
    """The bytes a value is sent as: ``1.0`` is not ``1``, null is not absent."""
    return json.dumps(value, sort_keys=True)


def app(name: str, prefix: str | None = None, **deployment: Any) -> dict[str, Any]:
    return {
        "name": name,
        "import_path": f"{name}:app",
        "route_prefix": f"/{name}" if prefix is None else prefix,
        "deployments": [{"name": "D", **deployment}],
    }


def theirs(name: str = "theirs") -> dict[str, Any]:
    """Another owner's app, with everything a normalizing merge would change."""
    config = app(name, user_config={"factor": 1.5, "scale": 1.0, "note": None})
    config["route_prefix"] = None  # not exposed over HTTP: must not become "/"
    config["runtime_env"] = {}
    return config


def ours_from_engine(**deployment: Any) -> dict[str, Any]:
    """Our app as checked inputs give it: parsed from what the engine sends (floats, nulls)."""
    engine_app = app("ours", num_replicas=2.0, user_config={"price": 3.0, "note": None})
    engine_app["deployments"][0].update(deployment)
    return AppInputs.parse({"app": engine_app, "dashboard": {"url": "http://127.0.0.1:1"}}).app


class FakeServe:
    """Serve's REST API in memory, as the deployer uses it; records every PUT body."""

    description = "the fake dashboard"

    def __init__(
        self,
        *,
        ray_version: str | None = "2.40.0",
        running: bool = True,
        controller_states: tuple[str, ...] = ("ALIVE",),
        outcome: str = RUNNING,
    ) -> None:
        self.apps: dict[str, dict[str, Any]] = {}
        self.settings = copy.deepcopy(SETTINGS)
        self.ray_version = ray_version
        self.running = running
        self.controller_states = list(controller_states)
        self.outcome = outcome
        """The status a PUT leaves a new or changed app in."""
        self.puts: list[dict[str, Any]] = []
        self.gets = 0
        self.after_put: Callable[[FakeServe], None] | None = None
        self.on_get: Callable[[FakeServe], None] | None = None
        self._clock = 1000.0

    def add(
        self,
        config: dict[str, Any] | None,
        *,
        name: str | None = None,
        status: str = RUNNING,
        source: str = "declarative",
        deployments: dict[str, str] | None = None,
    ) -> None:
        """An app Serve runs; ``config`` None: deployed from Python code (``serve.run``)."""
        name = name or str((config or {}).get("name"))
        self._clock += 1
        if deployments is None:
            healthy = DeploymentStatus.HEALTHY.value if status == RUNNING else "UPDATING"
            deployments = {d["name"]: healthy for d in (config or {}).get("deployments", [])}
        self.apps[name] = {
            "name": name,
            "status": status,
            "message": "the build failed" if status == "DEPLOY_FAILED" else "",
            "last_deployed_time_s": self._clock,
            "route_prefix": (config or {}).get("route_prefix", "/"),
            "source": source,
            "deployed_app_config": copy.deepcopy(config),
            "deployments": {n: {"status": s, "message": ""} for n, s in deployments.items()},
        }
        self.running = True

    def status(self, name: str, status: str) -> None:
        self.apps[name]["status"] = status

    # ServeApi ----------------------------------------------------------------------------------

    def get_applications(self, *, deadline: Deadline | None = None) -> dict[str, Any]:
        self.gets += 1
        if self.on_get is not None:
            self.on_get(self)
        body: dict[str, Any] = {"applications": self.apps}
        if self.running:
            body.update(self.settings, controller_info={"node_id": "head"})
        return dict(json.loads(json.dumps(body)))  # what crosses the wire

    def put_applications(
        self, config: Mapping[str, Any], *, deadline: Deadline | None = None
    ) -> None:
        body = json.loads(json.dumps(config))
        self.puts.append(body)
        if "target_capacity" in body:  # a cluster-wide setting Serve reports back at the top
            self.settings["target_capacity"] = body["target_capacity"]
        sent = {a["name"]: a for a in body["applications"]}
        keeps_imperative = tuple(map(int, (self.ray_version or "0").split("."))) >= (2, 11)
        for name, details in list(self.apps.items()):
            if name not in sent and (details["source"] == "declarative" or not keeps_imperative):
                del self.apps[name]
        for name, config_sent in sent.items():
            current = self.apps.get(name)
            unchanged = (
                current is not None
                and exact(current["deployed_app_config"]) == exact(config_sent)
                and current["status"] != "DEPLOY_FAILED"
            )
            if not unchanged:
                self.add(config_sent, status=self.outcome)
        if self.after_put is not None:
            self.after_put(self)

    def serve_controller_states(self, *, deadline: Deadline | None = None) -> list[str]:
        return list(self.controller_states)

    def version(self, *, deadline: Deadline | None = None) -> dict[str, Any]:
        if self.ray_version is None:
            raise DashboardError("GET /api/version failed")
        return {"ray_version": self.ray_version}

    def close(self) -> None:
        pass

    # what was sent ------------------------------------------------------------------------------

    def sent(self, put: int = -1) -> dict[str, dict[str, Any]]:
        """Name -> app config of one PUT body."""
        return {a["name"]: a for a in self.puts[put]["applications"]}


class NoLock:
    def check_held(self) -> None:
        pass


@contextlib.contextmanager
def no_lock(_deadline: Deadline) -> Iterator[NoLock]:
    yield NoLock()


def deployer(serve: ServeApi, warnings: list[str] | None = None, **kw: Any) -> ServeDeployer:
    return ServeDeployer(
        serve,
        lock=no_lock,
        backoff=Backoff(initial_s=0.005, max_s=0.02, fast_max_s=0.02),
        warn=(warnings if warnings is not None else []).append,
        **kw,
    )


def deadline() -> Deadline:
    return Deadline(5)


# what a PUT carries --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("running_ours", "desired", "sent_ours"),
    [
        (None, "new", True),
        (app("ours", num_replicas=1), "new", True),
        ("new", None, False),
    ],
    ids=["create", "update", "remove"],
)
def test_others_are_sent_exactly_as_read_and_ours_as_checked(
    running_ours: Any, desired: Any, sent_ours: bool
) -> None:
    ours = ours_from_engine()
    serve = FakeServe()
    serve.add(theirs())
    serve.add(theirs("second"), status="UNHEALTHY")
    if running_ours is not None:
        serve.add(ours if running_ours == "new" else running_ours)

    applied = deployer(serve).apply("ours", ours if desired else None, deadline=deadline())

    assert applied.put and len(serve.puts) == 1
    body = serve.puts[0]
    assert exact({k: v for k, v in body.items() if k != "applications"}) == exact(SETTINGS)
    sent = serve.sent()
    assert exact(sent["theirs"]) == exact(theirs())  # nulls, 1.0, every key
    assert exact(sent["second"]) == exact(theirs("second"))
    if sent_ours:
        # Normalized once, by AppInputs: ints as ints, no null-valued keys.
        assert exact(sent["ours"]) == exact(app("ours", num_replicas=2, user_config={"price": 3}))
    else:
        assert set(sent) == {"theirs", "second"}


def test_an_adopted_config_is_put_back_exactly_as_serve_reported_it() -> None:
    serve = FakeServe()
    adopted = theirs("ours")
    adopted["route_prefix"] = "/ours"
    serve.add(adopted)
    serve.add(theirs())
    work = deployer(serve)
    applied = work.apply("ours", ours_from_engine(), deadline=deadline(), claim=Claim(adopt=True))
    assert applied.put and work.replaced is not None

    back = work.put_back("ours", work.replaced, deadline=deadline())

    assert back.put and len(serve.puts) == 2
    assert exact(serve.sent()["ours"]) == exact(adopted)
    assert exact(serve.sent()["theirs"]) == exact(theirs())


# when a PUT is sent ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "desired", "puts"),
    [
        (RUNNING, "same", 0),
        ("DEPLOYING", "same", 0),
        ("UNHEALTHY", "same", 0),
        ("DEPLOY_FAILED", "same", 1),  # how Serve retries a deploy
        (RUNNING, "changed", 1),
        (None, None, 0),  # removing an app that is not there
        ("DELETING", None, 0),  # already on its way out
        (RUNNING, None, 1),
    ],
)
def test_a_put_is_sent_only_when_it_changes_something_or_retries_a_failure(
    status: str | None, desired: str | None, puts: int
) -> None:
    ours = ours_from_engine()
    serve = FakeServe()
    serve.add(theirs())
    if status is not None:
        serve.add(ours, status=status)
    wanted = {"same": ours, "changed": ours_from_engine(num_replicas=3.0), None: None}[desired]

    applied = deployer(serve).apply("ours", wanted, deadline=deadline())

    assert applied.put is (puts == 1)
    assert len(serve.puts) == puts


# another writer that takes no lock ------------------------------------------------------------


def lockless_writer(times: int | None) -> Callable[[FakeServe], None]:
    """After each of our first ``times`` PUTs (None: every one), a stale write drops theirs."""
    count = [0]

    def write(serve: FakeServe) -> None:
        count[0] += 1
        if times is None or count[0] <= times:
            serve.apps.pop("theirs", None)

    return write


@pytest.mark.parametrize(
    ("max_merges", "drops", "puts", "fails"),
    [
        (3, 0, 1, False),
        (3, 1, 2, False),
        (3, 3, 4, False),
        (3, None, 4, True),
        (1, None, 2, True),
        (0, None, 1, True),
    ],
)
def test_an_app_dropped_by_another_writer_is_merged_back_at_most_max_merges_times(
    max_merges: int, drops: int | None, puts: int, fails: bool
) -> None:
    serve = FakeServe()
    serve.add(theirs())
    serve.after_put = lockless_writer(drops)
    warnings: list[str] = []
    work = deployer(serve, warnings, max_merges=max_merges)

    if fails:
        with pytest.raises(ConcurrentWriterError, match="'theirs' missing"):
            work.apply("ours", ours_from_engine(), deadline=deadline())
    else:
        work.apply("ours", ours_from_engine(), deadline=deadline())
        assert exact(serve.apps["theirs"]["deployed_app_config"]) == exact(theirs())

    assert len(serve.puts) == puts
    assert all(exact(serve.sent(i)["theirs"]) == exact(theirs()) for i in range(puts))
    assert len(warnings) == puts - 1
    assert all("'theirs'" in w and "putting it back" in w for w in warnings)


# apps deployed from Python code ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("ray_version", "refused"),
    [
        ("2.10.0", ImperativeAppsError),
        ("2.9.3", ImperativeAppsError),
        ("2.8.0", ImperativeAppsError),
        ("", UnsupportedRayError),  # unknown: nothing is written at all
        (None, DashboardError),  # the version call failed
        ("2.11.0", None),
        ("2.12.0", None),
        ("2.40.1", None),
    ],
)
def test_imperative_apps_are_refused_on_a_ray_that_deletes_them(
    ray_version: str | None, refused: type[Exception] | None
) -> None:
    serve = FakeServe(ray_version=ray_version)
    serve.add(None, name="notebook", source="imperative")
    serve.add(theirs())
    work = deployer(serve)

    if refused is not None:
        with pytest.raises(refused) as caught:
            work.apply("ours", ours_from_engine(), deadline=deadline())
        assert serve.puts == [] and not work.wrote
        if refused is ImperativeAppsError:
            assert "'notebook'" in str(caught.value) and "Ray 2.11.0 and later" in str(caught.value)
    else:
        work.apply("ours", ours_from_engine(), deadline=deadline())
        assert set(serve.sent()) == {"theirs", "ours"}  # no config to carry: Serve keeps it
        assert "notebook" in serve.apps


# other apps' first builds -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("building", "built_after_gets", "waits"),
    [
        ("theirs", 3, "until built"),
        ("theirs", None, "build_wait_s"),
        ("ours", None, "no"),  # our own app's build is what we replace
    ],
)
def test_a_write_waits_for_other_apps_first_builds_bounded(
    building: str, built_after_gets: int | None, waits: str
) -> None:
    ours = ours_from_engine()
    serve = FakeServe()
    serve.add(theirs(), status="DEPLOYING", deployments={})
    if building == "ours":
        serve.status("theirs", RUNNING)
        serve.add(ours_from_engine(num_replicas=5.0), status="DEPLOYING", deployments={})

    def build(serve: FakeServe) -> None:
        if built_after_gets is not None and serve.gets >= built_after_gets:
            serve.status("theirs", RUNNING)
            serve.apps["theirs"]["deployments"] = {"D": {"status": "HEALTHY", "message": ""}}

    serve.on_get = build
    build_wait_s = 0.3
    started = time.monotonic()
    deployer(serve, build_wait_s=build_wait_s).apply("ours", ours, deadline=deadline())
    elapsed = time.monotonic() - started

    assert len(serve.puts) == 1
    if waits == "until built":
        assert serve.gets >= 3 and elapsed < build_wait_s
    elif waits == "build_wait_s":
        assert build_wait_s <= elapsed < build_wait_s + 1
    else:
        assert serve.gets == 2 and elapsed < build_wait_s  # one read before, one after the PUT


# ownership of a create ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("running", "adopt", "refusal"),
    [
        ([theirs()], False, None),
        ([app("other", prefix="/ours")], False, "route_prefix /ours is already served"),
        ([app("other", prefix="/ours")], True, "route_prefix /ours is already served"),
        ([app("ours", num_replicas=7)], False, "with a different config"),
        ([app("ours", num_replicas=7)], True, None),
        ([None], False, r"from Python code \(serve\.run\)"),
        (["same"], False, None),  # a re-run after an interrupted create
    ],
    ids=["free", "prefix", "prefix-adopt", "name", "name-adopt", "name-imperative", "same"],
)
def test_a_create_never_takes_what_another_owner_runs_unless_it_adopts(
    running: list[Any], adopt: bool, refusal: str | None
) -> None:
    ours = ours_from_engine()
    serve = FakeServe()
    for config in running:
        if config is None:
            serve.add(None, name="ours", source="imperative")
        else:
            serve.add(ours if config == "same" else config)
    work = deployer(serve)

    if refusal is not None:
        with pytest.raises(AppOwnershipError, match=refusal):
            work.apply("ours", ours, deadline=deadline(), claim=Claim(adopt=adopt))
        assert serve.puts == [] and not work.wrote
    else:
        work.apply("ours", ours, deadline=deadline(), claim=Claim(adopt=adopt))
        assert serve.apps["ours"]["deployed_app_config"] == ours


def test_a_route_prefix_of_an_app_being_deleted_is_free() -> None:
    serve = FakeServe()
    serve.add(app("leaving", prefix="/ours"), status="DELETING")
    deployer(serve).apply("ours", ours_from_engine(), deadline=deadline(), claim=Claim())
    assert len(serve.puts) == 1 and "leaving" not in serve.sent()


# proving an empty answer ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("controllers", "written"),
    [((), True), (("DEAD",), True), (("ALIVE",), False), (("RESTARTING", "DEAD"), False)],
)
def test_an_empty_answer_is_believed_only_when_no_serve_controller_lives(
    controllers: tuple[str, ...], written: bool
) -> None:
    serve = FakeServe(running=False, controller_states=controllers)
    work = deployer(serve, state_proof_s=0.05)

    if written:
        work.apply("ours", ours_from_engine(), deadline=deadline())
        assert len(serve.puts) == 1
    else:
        with pytest.raises(ServeStateUnknownError, match="Nothing was written"):
            work.apply("ours", ours_from_engine(), deadline=deadline())
        assert serve.puts == []


# waiting for the outcome ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "meanwhile", "error", "match"),
    [
        (RUNNING, None, None, None),
        ("DEPLOY_FAILED", None, ServeDeployError, "could not deploy 'ours'.*the build failed"),
        ("DEPLOYING", "remove", ConcurrentWriterError, "'ours' was removed"),
        ("DEPLOYING", "rewrite", ConcurrentWriterError, "now runs a config other than"),
        ("DEPLOYING", None, ServeDeployError, "was not RUNNING within"),
    ],
)
def test_the_wait_ends_at_running_at_failure_or_when_another_writer_takes_the_app(
    outcome: str, meanwhile: str | None, error: type[Exception] | None, match: str | None
) -> None:
    serve = FakeServe(outcome=outcome)
    work = deployer(serve)
    ours = ours_from_engine()
    applied = work.apply("ours", ours, deadline=deadline())
    if meanwhile == "remove":
        del serve.apps["ours"]
    elif meanwhile == "rewrite":
        serve.apps["ours"]["deployed_app_config"] = app("ours", num_replicas=9)

    if error is None:
        state = work.wait_applied("ours", applied, deadline(), ours)
        assert state.is_running
        # Statuses stay the plain strings Serve sent: what reaches the engine is a plain str.
        assert type(state.status) is str and state.status == ApplicationStatus.RUNNING
        assert all(type(s) is str for s in state.deployment_statuses().values())
    else:
        with pytest.raises(error, match=match):
            work.wait_applied("ours", applied, Deadline(0.2), ours)


# target_capacity ------------------------------------------------------------------------------


def test_target_capacity_is_set_with_every_app_sent_back_exactly_as_read() -> None:
    serve = FakeServe()
    serve.add(app("ours"))
    serve.add(app("ours-too", "/too"))
    assert deployer(serve).set_target_capacity(20, ours={"ours", "ours-too"}, deadline=deadline())
    (body,) = serve.puts
    assert body["target_capacity"] == 20
    assert body["proxy_location"] == "EveryNode"
    assert [exact(a) for a in body["applications"]] == [
        exact(app("ours")),
        exact(app("ours-too", "/too")),
    ]
    # Already so: no second PUT.
    assert not deployer(serve).set_target_capacity(
        20, ours={"ours", "ours-too"}, deadline=deadline()
    )
    assert len(serve.puts) == 1


def test_target_capacity_is_never_set_where_another_owner_runs_an_app() -> None:
    serve = FakeServe()
    serve.add(app("ours"))
    serve.add(theirs())
    with pytest.raises(AppOwnershipError, match=r"also runs 'theirs'.*nothing was written"):
        deployer(serve).set_target_capacity(0, ours={"ours"}, deadline=deadline())
    assert serve.puts == []


def test_a_target_capacity_already_so_is_no_write_and_no_refusal() -> None:
    # A rollback's "back to 100" on a cluster that is already at 100 touches nobody's apps.
    serve = FakeServe()
    serve.add(app("ours"))
    serve.add(theirs())
    serve.settings["target_capacity"] = 100
    assert not deployer(serve).set_target_capacity(100, ours={"ours"}, deadline=deadline())
    assert serve.puts == []


def test_a_target_capacity_undone_by_another_writer_is_reported() -> None:
    serve = FakeServe()
    serve.add(app("ours"))

    def undo(fake: FakeServe) -> None:
        fake.settings["target_capacity"] = 100

    serve.after_put = undo
    with pytest.raises(ConcurrentWriterError, match=r"target_capacity 30 was sent.*shows 100"):
        deployer(serve).set_target_capacity(30, ours={"ours"}, deadline=deadline())


def test_an_initial_target_capacity_goes_only_with_the_put_that_starts_serve() -> None:
    stopped = FakeServe(running=False, controller_states=())
    deployer(stopped).apply("ours", app("ours"), deadline=deadline(), initial_target_capacity=0)
    assert stopped.puts[-1]["target_capacity"] == 0
    running = FakeServe()
    running.add(app("other"))
    deployer(running).apply("ours", app("ours"), deadline=deadline(), initial_target_capacity=0)
    assert "target_capacity" not in running.puts[-1]
