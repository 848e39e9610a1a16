"""v2 io: io.weight / io.bfq.weight (converted from blkio weight) and io.max throttling.
Unlike v1, v2 charges writeback to the cgroup that dirtied the pages, so buffered writes
are throttled too."""

from __future__ import annotations

import os

from hull.cgroups.files import read
from hull.cgroups.files import write as write_file
from hull.cgroups.resources import BlockIO
from hull.cgroups.stats import BlkioEntry


def blkio_to_io_weight(weight: int) -> int:
    """blkio weight [10, 1000] onto io.weight [1, 10000], as runc does."""
    return 1 + (weight - 10) * 9999 // 990


def apply(d: str, bio: BlockIO) -> None:
    bfq = os.path.exists(f"{d}/io.bfq.weight")
    if bio.weight:
        if bfq:
            write_file(d, "io.bfq.weight", bio.weight)
        else:
            write_file(d, "io.weight", blkio_to_io_weight(bio.weight))
    for wd in bio.weight_device:
        if wd.weight:
            if bfq:
                write_file(d, "io.bfq.weight", f"{wd.major}:{wd.minor} {wd.weight}")
            else:
                write_file(d, "io.weight",
                           f"{wd.major}:{wd.minor} {blkio_to_io_weight(wd.weight)}")
    for key, devices in (("rbps", bio.throttle_read_bps), ("wbps", bio.throttle_write_bps),
                         ("riops", bio.throttle_read_iops), ("wiops", bio.throttle_write_iops)):
        for t in devices:
            write_file(d, "io.max", f"{t.major}:{t.minor} {key}={t.rate or 'max'}")


def entries(d: str) -> tuple[list[BlkioEntry], list[BlkioEntry]]:
    """io.stat as v1-shaped (bytes, ops) entries."""
    nbytes: list[BlkioEntry] = []
    ops: list[BlkioEntry] = []
    try:
        text = read(d, "io.stat")
    except OSError:
        return nbytes, ops
    for line in text.splitlines():
        dev, *pairs = line.split()
        major, minor = (int(x) for x in dev.split(":"))
        kv = dict(p.split("=", 1) for p in pairs)
        nbytes += [BlkioEntry(major, minor, "Read", int(kv.get("rbytes", 0))),
                   BlkioEntry(major, minor, "Write", int(kv.get("wbytes", 0)))]
        ops += [BlkioEntry(major, minor, "Read", int(kv.get("rios", 0))),
                BlkioEntry(major, minor, "Write", int(kv.get("wios", 0)))]
    return nbytes, ops
