"""Which KubeRay API server the stand-in plays: the behaviours that changed between releases.

Read from ray-project/kuberay at the tags named (``apiserversdk/proxy.go``, ``apiserversdk/util/``,
``apiserver/pkg/manager/resource_manager.go``, ``apiserver/pkg/util/cluster.go``,
``apiserver/pkg/model/converter.go``, ``proto/config.proto``):

- v1.4.0-v1.4.2: V2 first ships; it streams answers as they come and never retries; it serves
  Events at ``/api/v1/namespaces/{ns}/events`` (``involvedObject.apiVersion=ray.io/v1`` added);
  templates have no ``memory_unit`` (memory is always ``Gi``); V1 passes a missing template's
  error up unwrapped and reads core/v1 Events for its answers.
- v1.5.0-v1.6.2: V2 retries (408/429/500/502/503/504, 3 retries, backoff 0.5/1/2 s, one 30 s
  deadline per request) and reads 2xx answers whole before sending them (#3959); the
  compute-template middleware on POST/PUT of rayclusters/rayjobs/rayservices; ``memory_unit``
  (#3956); ``Cannot get compute template for name ...`` wraps a missing template's error.
- v1.7.0: as v1.5-v1.6, and Events move to ``GET /apis/events.k8s.io/v1/namespaces/{ns}/events``
  (``regarding.apiVersion=ray.io/v1`` added), V1 reads events.k8s.io/v1 Events (#5008).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Release:
    """One release family's behaviour.

    Attributes:
        name: ``v1.4``, ``v1.5``, ``v1.6`` or ``v1.7``.
        tags: The tags it stands for.
        retries: V2 retries retryable answers within one deadline per request.
        buffers: V2 reads a 2xx answer whole before sending it (else streams every answer).
        template_middleware: V2 applies compute templates to POST/PUT bodies.
        memory_unit: Templates carry ``memory_unit`` (else memory is always ``Gi``).
        wraps_template_lookup: V1's missing-template error reads ``Cannot get compute template for
            name '<n>' in namespace '<ns>', error: ...``.
        events_v1_api: V1 and V2 use events.k8s.io/v1 (else core/v1) Events.

    """

    name: str
    tags: str
    retries: bool
    buffers: bool
    template_middleware: bool
    memory_unit: bool
    wraps_template_lookup: bool
    events_v1_api: bool

    @property
    def events_path(self) -> str:
        """The V2 Events route, ``{namespace}`` to fill."""
        if self.events_v1_api:
            return "/apis/events.k8s.io/v1/namespaces/{namespace}/events"
        return "/api/v1/namespaces/{namespace}/events"

    @property
    def events_selector(self) -> str:
        """The field selector V2 appends to every Events query."""
        field = "regarding" if self.events_v1_api else "involvedObject"
        return f"{field}.apiVersion=ray.io/v1"


V1_4 = Release(
    name="v1.4",
    tags="v1.4.0-v1.4.2",
    retries=False,
    buffers=False,
    template_middleware=False,
    memory_unit=False,
    wraps_template_lookup=False,
    events_v1_api=False,
)
V1_5 = Release(
    name="v1.5",
    tags="v1.5.0-v1.5.2",
    retries=True,
    buffers=True,
    template_middleware=True,
    memory_unit=True,
    wraps_template_lookup=True,
    events_v1_api=False,
)
V1_6 = replace(V1_5, name="v1.6", tags="v1.6.0-v1.6.2")
V1_7 = replace(V1_5, name="v1.7", tags="v1.7.0", events_v1_api=True)

RELEASES: dict[str, Release] = {r.name: r for r in (V1_4, V1_5, V1_6, V1_7)}


def parse_release(text: str) -> Release:
    """``v1.7``, ``1.7``, ``v1.5.2``... as the release family it belongs to.

    Raises:
        ValueError: Not one of v1.4 to v1.7 (V2 does not exist before v1.4.0).

    """
    match = re.fullmatch(r"v?(1)\.(\d+)(?:\.\d+)?(?:-rc\.\d+)?", text.strip())
    family = f"v1.{match.group(2)}" if match else text
    if family not in RELEASES:
        known = ", ".join(RELEASES)
        raise ValueError(f"unknown KubeRay API server release {text!r}; known: {known}")
    return RELEASES[family]
