"""The Docker Engine API over HTTP/1.1 on a Unix socket (docs/api.md): routes, version
negotiation, hijacked streams — translated to the engine, with no logic of its own."""
