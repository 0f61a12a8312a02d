"""The package's own exception types.

Every failure a user can meet during ``pulumi up`` is one of these. The Pulumi provider host turns a
provider exception into the text the user reads, so messages are short, say what failed and what
state was left, and never carry secrets (tokens, kubeconfig content) or raw response bodies.
Transport exceptions are converted in one place per client (``serve.client``, ``kube.client``) and
chained ``from None`` where the original could carry a header or a credential.
"""

from __future__ import annotations

from typing import TypeVar

_KubeErrorT = TypeVar("_KubeErrorT", bound="KubeError")


class RayServiceError(Exception):
    """Base class of every error raised by pulumi_rayservice."""


class InvalidInputError(RayServiceError):
    """Inputs that Serve, KubeRay or Kubernetes would reject (or silently ignore)."""


ValidationError = InvalidInputError
"""The earlier name of :class:`InvalidInputError`, kept for programs that catch it (it reads
like pydantic's ``ValidationError``, which is another class)."""


class TemporaryError(RayServiceError):
    """A failure that a retry may fix (connection refused, 5xx, 429); see ``retry_after_s``."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.attempts = 1
        """How many tries ended in this failure (set by the retry loop)."""
        self.earlier: list[str] = []
        """What the tries before the last one met, in order (set by the retry loop)."""

    def tries_seen(self) -> str:
        """`` (before: HTTP 502 x2)``: what earlier tries met when it differs from the last."""
        counted: dict[str, int] = {}
        for problem in self.earlier:
            if problem != str(self):
                counted[problem] = counted.get(problem, 0) + 1
        if not counted:
            return ""
        shown = [f"{text} x{n}" if n > 1 else text for text, n in counted.items()]
        return f" (before: {'; '.join(shown)})"


# Ray dashboard / Serve REST API -------------------------------------------------------------


class DashboardError(RayServiceError):
    """The Ray dashboard answered something unexpected."""


class DashboardUnreachableError(DashboardError, TemporaryError):
    """No answer from the dashboard (connection refused, timeout, 502/503/504 after retries).

    ``refused``: the host actively refused or does not resolve (nothing listens there now; that
    proves nothing about the cluster, which may only be behind a stopped port-forward).
    ``maybe_applied``: a write may have reached Serve before the answer was lost.
    """

    def __init__(
        self,
        message: str,
        *,
        refused: bool = False,
        maybe_applied: bool = False,
        retry_after_s: float | None = None,
    ):
        super().__init__(message, retry_after_s=retry_after_s)
        self.refused = refused
        self.maybe_applied = maybe_applied


class DashboardTLSError(DashboardError):
    """TLS with the dashboard (or the API server in front of it) failed; never retried.

    A certificate not trusted, a host name that does not match, no common protocol: a retry
    fails the same way.
    """


class DashboardGoneError(DashboardError):
    """The dashboard's host or head Service no longer exists (so neither do its apps)."""


class ApiServerRefusedError(DashboardError):
    """The KubeRay API server itself refused a dashboard request; a retry fails the same way.

    It serves no V2, or does not proxy that Service.
    """


class DashboardAuthError(DashboardError):
    """The dashboard refused our credentials (401: token missing, 403: token wrong)."""


class ServeConfigRejectedError(DashboardError):
    """Serve answered 400 to a PUT: its own schema check refused the config (message kept)."""


class ServeDeployError(RayServiceError):
    """Serve accepted the config but the application did not reach RUNNING (failed or timed out)."""


class AppOwnershipError(RayServiceError):
    """An application of that name already runs on the cluster and was not deployed by us."""


class ServeStateUnknownError(DashboardError):
    """What Serve runs could not be established, so nothing was written.

    The dashboard answers Serve's empty schema when it cannot reach the controller; writing on
    that answer would drop every app on the cluster.
    """


class ImperativeAppsError(RayServiceError):
    """Apps deployed from Python (``serve.run``) run on a Ray that a PUT would take them from."""


class UnsupportedRayError(RayServiceError):
    """The cluster's Ray cannot do what was asked (too old, or a field its Serve does not know)."""


class ConcurrentWriterError(RayServiceError):
    """Another writer changed Serve's config under us (it took no lock); what was seen is named."""


class LockTimeoutError(RayServiceError):
    """A cluster's writer lock stayed held by someone else for the whole wait (holder named)."""


# Kubernetes API ------------------------------------------------------------------------------


class KubeError(RayServiceError):
    """The Kubernetes API refused or failed a request."""

    def __init__(self, message: str, *, status: int | None = None, reason: str | None = None):
        super().__init__(message)
        self.status = status
        self.reason = reason

    def told(self: _KubeErrorT, then: str) -> _KubeErrorT:
        """The same error, of the same type, with what it left added (``"<error>. <then>"``).

        A caller that knows what a failure left behind says so without turning a
        ``ClusterGoneError`` or a ``KubeTemporaryError`` into a plain ``KubeError``: a user's
        ``except`` clause and the retry rules still see what happened.
        """
        return type(self)(f"{self}. {then}", status=self.status, reason=self.reason)


class KubeNotFoundError(KubeError):
    """404: the object (or its namespace, or the API) does not exist."""


class KubeConflictError(KubeError):
    """409: AlreadyExists on create, or a stale resourceVersion on update."""


class KubeTemporaryError(KubeError, TemporaryError):
    """429/500/503/504 or a dropped connection: retried with backoff before it reaches a user."""


class KubeTLSError(KubeError):
    """TLS with the API server failed (certificate not trusted, wrong host name); never retried."""


class ClusterOwnershipError(KubeError):
    """A RayCluster of that name is not this resource's; nothing was changed.

    Made by someone else, or for another stack, or another object that took the name after ours
    was deleted.
    """


class RouteOwnershipError(KubeError):
    """A Gateway or HTTPRoute of that name is not this service's; nothing was changed."""


class ComputeTemplateMissingError(KubeError):
    """A compute template a cluster's group names does not exist on the KubeRay API server."""


class ComputeTemplateConflictError(KubeError):
    """A compute template's name is taken, or its clusters still name it; nothing changed.

    V1 templates carry no owner: one that exists cannot be told ours.
    """


class UnsupportedApiServerError(KubeError):
    """The KubeRay API server's release cannot do what was asked (it would silently do less)."""


class ClusterGoneError(KubeError):
    """The RayCluster this resource manages no longer exists (``pulumi refresh`` notices)."""


class ClusterDeleteTimeoutError(KubeError):
    """A deleted RayCluster was still terminating at the deadline (finalizers named)."""


class KubeConfigError(RayServiceError):
    """No usable kubeconfig / context / in-cluster configuration."""


class RolloutError(RayServiceError):
    """An incremental upgrade stopped: a health gate failed, or the new cluster never got ready.

    The message names the step, the gate and what it saw, and where traffic was left.
    """


class RolloutRolledBackError(RolloutError):
    """A gate failed and the upgrade was rolled back: all traffic is on the old cluster."""


class RolloutPausedError(RolloutError):
    """A gate failed with ``on_failure="Pause"``: traffic left split; the next ``up`` resumes."""


class ClusterNotReadyError(RayServiceError):
    """The RayCluster did not become ready in time (conditions and events in the message)."""
