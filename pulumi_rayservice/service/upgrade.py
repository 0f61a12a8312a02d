"""How a RayService takes a change to its cluster (``Upgrade``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AllowInfNan, BaseModel, ConfigDict, Field, Strict, model_validator

from .._util.inputs import HOUR_S
from ..rollout.options import ClusterUpgradeOptions

Strategy = Literal["NewCluster", "NewClusterWithIncrementalUpgrade", "InPlace", "None"]
INCREMENTAL = "NewClusterWithIncrementalUpgrade"


class Upgrade(BaseModel):
    """What a cluster-level change (image, rayVersion, a pod template, ...) does.

    Args:
        strategy: ``"NewCluster"`` (default, KubeRay's zero-downtime upgrade): a new cluster is
            created beside the old one, every app is deployed and RUNNING there, then the serve
            Service switches to it, then the old apps and cluster are deleted. If anything on the
            new cluster fails, ``pulumi up`` fails and traffic never moved.
            ``"InPlace"``: for clusters without room for two: the RayCluster is patched and
            KubeRay recreates its pods (``upgradeStrategy: Recreate``); Serve is down until the
            new pods are ready and the apps are deployed again. The preview warns of it.
            ``"None"``: cluster changes are ignored (``ignore_changes=["spec"]``), as KubeRay's
            ``upgradeStrategy: None``; app changes still apply.
            ``"NewClusterWithIncrementalUpgrade"``: as KubeRay's: clients go through a Gateway,
            and after the new cluster and its apps are up, traffic and Serve capacity move to it
            step by step (``cluster_upgrade_options``), every step gated on its health; a
            failed gate rolls back and fails ``pulumi up`` with what it saw.
        drain_s: after the Service switched to the new cluster, how long the old apps keep
            serving in-flight requests before they and the old cluster are deleted (KubeRay's
            ``rayClusterDeletionDelaySeconds``, default 60 there too). A finite number of
            seconds from 0 to 3600: an hour covers in-flight requests, and the delete blocks
            for that long.
        cluster_upgrade_options: the Gateway, steps and gates of
            ``NewClusterWithIncrementalUpgrade`` (KubeRay's ``clusterUpgradeOptions``); required
            with that strategy, refused with the others.

    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy: Strategy = Field(
        default="NewCluster",
        description="NewCluster, NewClusterWithIncrementalUpgrade, InPlace or None",
    )
    # Strict: True is not 1 second; NaN or infinity would never end the wait.
    drain_s: Annotated[float, Strict(), AllowInfNan(False)] = Field(
        default=60, ge=0, le=HOUR_S, description="seconds before old apps are removed, 0..3600"
    )
    cluster_upgrade_options: ClusterUpgradeOptions | None = Field(
        default=None, description="the incremental upgrade's Gateway, steps and gates"
    )

    @model_validator(mode="after")
    def _options_with_their_strategy(self) -> Upgrade:
        if self.strategy == INCREMENTAL and self.cluster_upgrade_options is None:
            raise ValueError(
                f"{INCREMENTAL} needs cluster_upgrade_options=rs.ClusterUpgradeOptions("
                "gateway_class_name=..., step_size_percent=..., interval_seconds=...)"
            )
        if self.strategy != INCREMENTAL and self.cluster_upgrade_options is not None:
            raise ValueError(f"cluster_upgrade_options is only used by {INCREMENTAL}")
        return self

    @property
    def incremental(self) -> bool:
        """Whether cluster changes roll out through the Gateway API step by step."""
        return self.strategy == INCREMENTAL
