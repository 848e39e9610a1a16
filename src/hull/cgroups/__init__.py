"""Drive one container's cgroup on v1, hybrid and v2 hosts through one CgroupDriver interface.

The seeds' picture holds on every host: a cgroup is a directory plus a set of limit files;
a container gets a directory per hierarchy and its PID is written into it. What differs is
how many hierarchies there are (one per controller on v1, one on v2) and the file names.
"""
