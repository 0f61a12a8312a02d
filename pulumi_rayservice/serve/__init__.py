"""Ray Serve side of pulumi_rayservice: application models and the dashboard's Serve REST API."""
