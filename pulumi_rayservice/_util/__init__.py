"""Small helpers shared by the providers (normalisation, polling)."""
