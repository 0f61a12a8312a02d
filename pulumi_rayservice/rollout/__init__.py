"""Incremental cluster upgrades: traffic moved step by step through a Gateway API HTTPRoute.

``plan`` holds KubeRay's rules for how Serve's ``target_capacity`` and the route's weights move
together; the rest of the package builds on it.
"""
