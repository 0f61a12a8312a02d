"""Real components started by the test session: Ray heads, the Pulumi provider host."""
