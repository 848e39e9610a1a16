"""The container-true /proc view: meminfo, cpuinfo, stat, uptime, loadavg, diskstats, swaps
and the online CPU list computed from the container's cgroup (views.py), served over FUSE
by the engine service (fuse.py, server.py) and bound over the kernel's files at start."""
