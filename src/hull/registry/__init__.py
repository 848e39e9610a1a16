"""The OCI distribution client: resolve, authenticate, pull blobs, push. The HTTP transport
is an httpx.Client handed in, so tests can point it at a real local registry."""
