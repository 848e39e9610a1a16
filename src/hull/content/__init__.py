"""Content-addressed blobs: nothing is visible under its digest before it is whole,
verified against its expected size and digest, and on disk (fsync, then atomic rename)."""
