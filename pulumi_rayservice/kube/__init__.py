"""Reaching a Kubernetes API server: credentials (``Kube``) and the typed client."""
