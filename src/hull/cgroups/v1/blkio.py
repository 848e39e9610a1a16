"""v1 blkio: CFQ/BFQ weights and throttling. Only direct I/O is throttled on v1: buffered
writes reach the disk from the kernel's writeback threads, outside the container's cgroup."""

from __future__ import annotations

import os

from hull.cgroups.files import read
from hull.cgroups.files import write as write_file
from hull.cgroups.resources import BlockIO
from hull.cgroups.stats import BlkioEntry


def _weight_file(d: str, name: str) -> str:
    # kernels with BFQ instead of CFQ name the files blkio.bfq.*
    return name if os.path.exists(f"{d}/{name}") else name.replace("blkio.", "blkio.bfq.")


def apply(d: str, bio: BlockIO) -> None:
    if bio.weight is not None:
        write_file(d, _weight_file(d, "blkio.weight"), bio.weight)
    if bio.leaf_weight is not None:
        write_file(d, _weight_file(d, "blkio.leaf_weight"), bio.leaf_weight)
    for wd in bio.weight_device:
        if wd.weight is not None:
            write_file(d, _weight_file(d, "blkio.weight_device"),
                       f"{wd.major}:{wd.minor} {wd.weight}")
        if wd.leaf_weight is not None:
            write_file(d, _weight_file(d, "blkio.leaf_weight_device"),
                       f"{wd.major}:{wd.minor} {wd.leaf_weight}")
    if bio.throttle_write_bps or bio.throttle_write_iops:
        import sys
        print("hull: warning: on cgroup v1 blkio write throttling applies to direct I/O only; "
              "buffered writes are flushed by kernel threads outside the container's cgroup "
              "and escape the limit (cgroup v2's io.max covers them)", file=sys.stderr)
    for name, devices in (("read_bps_device", bio.throttle_read_bps),
                          ("write_bps_device", bio.throttle_write_bps),
                          ("read_iops_device", bio.throttle_read_iops),
                          ("write_iops_device", bio.throttle_write_iops)):
        for t in devices:
            write_file(d, f"blkio.throttle.{name}", f"{t.major}:{t.minor} {t.rate}")



def entries(d: str, name: str) -> list[BlkioEntry]:
    out: list[BlkioEntry] = []
    try:
        text = read(d, name)
    except OSError:
        return out
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and ":" in parts[0]:
            major, minor = parts[0].split(":")
            out.append(BlkioEntry(int(major), int(minor), parts[1], int(parts[2])))
    return out
