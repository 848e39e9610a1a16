"""hull's OCI runtime: a library first (Runtime), with a runc-compatible CLI in front of it."""
