"""Snapshotters: the filesystem trees that layers and containers live in. An active
snapshot (key) is writable; committing names it and makes it a possible parent. Mounts are
returned as data; the caller performs them. Knows nothing of images."""
