"""KubeRay RayCluster: the spec helpers, its validation against the CRD, and the provider."""
