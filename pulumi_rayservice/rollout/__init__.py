"""Incremental cluster upgrades: traffic moved step by step through a Gateway API HTTPRoute.

- ``plan``: KubeRay's rules for how Serve's ``target_capacity`` and the route's weights move;
- ``options``: what a user writes (KubeRay's ``clusterUpgradeOptions``, an existing Gateway,
  health gates, what a failed gate does);
- ``gates`` and ``health``: the gates, and their checks against real clusters;
- ``gateway_api`` and ``kube_route``: the Gateway and HTTPRoute, built and written;
- ``runner``: one rollout, run to the end or rolled back;
- ``inputs``, ``provider``, ``resource``: the ``TrafficSplit`` resource that runs it.
"""
