"""``AppInputs``: the checked inputs of one ``ServeApplication``, and what derives from them alone.

The provider receives its inputs (or the previous outputs, which carry the same keys) as a plain
dict in every engine call. Parsing them in one place gives every call the same typed view: the
app, the dashboard target, the waits, the secrets to keep out of errors. The names and limits of
the inputs live here too, beside the parsing, so that check, diff and the outputs agree on them.
Nothing here talks to the dashboard.

Our app is normalized (:func:`~pulumi_rayservice._util.normalize.canonical`) where it enters
the provider from the engine, and nowhere after. The engine turns every number into a float and
drops None-valued keys on EVERY call, so there are two doors: Check, which validates the new
inputs and returns them in Serve's form (:func:`.models.check_app`), and :meth:`AppInputs.parse`
(with :func:`previous_app` for an update's previous outputs) for every later call. The deployer
sends and compares what it is given; what Serve reports is normalized once, in :mod:`.status`;
a config of someone else's is sent exactly as Serve reported it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._util.inputs import DAY_S, HOUR_S
from .._util.normalize import canonical
from .._util.secrets import paths_under, text_leaves, values_at
from ..kube.config import kube_secrets
from .dashboard import DashboardTarget

__all__ = [
    "APP_KEYS",
    "CHANGE_KEYS",
    "DEFAULT_TIMEOUT_S",
    "FLAG_KEYS",
    "INPUT_DEFAULTS",
    "INPUT_KEYS",
    "MAX_DRAIN_S",
    "MAX_TIMEOUT_S",
    "SECRET_PATHS",
    "SERVE_OPTION_SECRETS",
    "AppInputs",
    "previous_app",
    "route_prefix_of",
    "secrets_in",
]

DEFAULT_TIMEOUT_S = 600.0
"""How long create and update wait for RUNNING by default (a first deploy pulls images)."""
INPUT_KEYS = (
    "app", "dashboard", "token", "timeout_s", "adopt", "rollback_on_failure", "serve_options",
    "drain_s", "cluster_revision", "wait_for_removal", "owner", "secret_paths",
    "initial_target_capacity",
)  # fmt: skip
CHANGE_KEYS = tuple(
    key for key in INPUT_KEYS if key not in ("owner", "secret_paths", "initial_target_capacity")
)
"""Inputs whose change is a change of the app (``owner`` only names the stack in lock holders,
``secret_paths`` only says which outputs are secret, ``initial_target_capacity`` only applies
when Serve starts)."""
INPUT_DEFAULTS: dict[str, Any] = {
    "timeout_s": DEFAULT_TIMEOUT_S,
    "adopt": False,
    "rollback_on_failure": True,
    "drain_s": 0,
    "wait_for_removal": True,
}
"""What an absent input means, so that a diff does not see "absent" and "default" as a change."""
FLAG_KEYS = ("adopt", "rollback_on_failure", "wait_for_removal")
MAX_TIMEOUT_S = DAY_S
"""Longest ``timeout_s``: a deploy that takes a day is stuck, and a bound keeps waits finite."""
MAX_DRAIN_S = HOUR_S
"""Longest ``drain_s``: in-flight requests, not sessions; the delete blocks for that long."""
SECRET_PATHS = (
    ("token",),
    ("dashboard", "token"),
    ("dashboard", "kube", "content"),
    ("dashboard", "api_server", "token"),
)
"""Inputs and outputs that are always secret."""
APP_KEYS = ("app", "deployed_app")
"""Inputs and outputs that hold the app: secret at the paths the ``secret_paths`` input names."""
SERVE_OPTION_SECRETS = (("serve_options", "http_options", "ssl_keyfile_password"),)


def secrets_in(props: Mapping[str, Any]) -> list[str]:
    """Every secret value in inputs or outputs of a ServeApplication (never raises).

    The token, kubeconfig content and the credentials inside it, the SSL key password of the
    Serve options: what an error or a log line of the call must not show.
    """
    paths = [*SECRET_PATHS, *SERVE_OPTION_SECRETS, *paths_under(props, APP_KEYS)]
    found = text_leaves(values_at(props, paths))
    for kube in values_at(props, (("dashboard", "kube"),)):
        found.extend(kube_secrets(kube))
    return found


def route_prefix_of(app: Mapping[str, Any]) -> str | None:
    """Serve's route prefix of an app config (Serve's default is "/")."""
    prefix = app.get("route_prefix", "/")
    return None if prefix is None else str(prefix)


def previous_app(olds: Mapping[str, Any]) -> dict[str, Any] | None:
    """The app of an update's previous outputs, normalized as :meth:`AppInputs.parse` does.

    None when they hold no app (outputs of a failed create): there is nothing to roll back to.
    """
    app = olds.get("app")
    return canonical(dict(app)) if isinstance(app, Mapping) else None


@dataclass(frozen=True)
class AppInputs:
    """The checked inputs of one ServeApplication, as the provider uses them."""

    app: dict[str, Any] = field(repr=False)
    target: DashboardTarget
    timeout_s: float
    adopt: bool
    rollback_on_failure: bool
    serve_options: dict[str, Any] | None = field(repr=False)
    drain_s: float
    wait_for_removal: bool
    owner: str | None
    raw: dict[str, Any] = field(repr=False)
    initial_target_capacity: int | None = None

    @classmethod
    def parse(cls, props: Mapping[str, Any]) -> AppInputs:
        """Read checked inputs (or previous outputs, which carry the same keys).

        ``app`` and ``serve_options`` are normalized here, once for the whole call: what the
        engine hands back after Check has its ints turned into floats again.
        """
        raw = {k: props[k] for k in INPUT_KEYS if k in props}
        return cls(
            app=canonical(dict(props["app"])),
            target=DashboardTarget.from_input(props["dashboard"], props.get("token")),
            timeout_s=float(props.get("timeout_s") or DEFAULT_TIMEOUT_S),
            adopt=bool(props.get("adopt", False)),
            rollback_on_failure=bool(props.get("rollback_on_failure", True)),
            serve_options=canonical(dict(props["serve_options"]))
            if props.get("serve_options")
            else None,
            drain_s=float(props.get("drain_s") or 0),
            wait_for_removal=bool(props.get("wait_for_removal", True)),
            owner=str(props["owner"]) if props.get("owner") else None,
            raw=raw,
            initial_target_capacity=_whole(props.get("initial_target_capacity")),
        )

    @property
    def name(self) -> str:
        """The Serve application name (part of the identity)."""
        return str(self.app["name"])

    @property
    def resource_id(self) -> str:
        """The Pulumi id: app name and dashboard identity, no secrets."""
        return f"{self.name}@{self.target.key}"

    def secrets(self) -> list[str]:
        """The secret values of this call, to blank out of any error message."""
        return secrets_in(self.raw)


def _whole(value: Any) -> int | None:
    """A percent the engine sent as a float, as the int it was."""
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
