"""cgroup v1: one hierarchy per controller (also used on hybrid hosts)."""
