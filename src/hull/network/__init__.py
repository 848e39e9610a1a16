"""Container networking: network namespaces and their interfaces (DESIGN.md's
hull.network). Today: the loopback every container's own namespace gets."""
