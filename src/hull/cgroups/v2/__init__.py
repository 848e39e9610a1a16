"""cgroup v2: one unified hierarchy, controllers delegated through cgroup.subtree_control."""
