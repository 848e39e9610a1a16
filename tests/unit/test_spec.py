"""Config parsing and the pure pieces of the runtime: no root needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from hull.cgroups.resources import DeviceRule
from hull.cgroups.v2.cpu import shares_to_weight
from hull.cgroups.v2.devices import program
from hull.cgroups.v2.io import blkio_to_io_weight
from hull.errors import InvalidArgument
from hull.runtime import mountopts
from hull.runtime.commands import parse_size
from hull.runtime.defaults import default_spec
from hull.runtime.signals import parse_signal
from hull.runtime.spec import parse
from hull.runtime.state import Status, validate_id


def test_default_spec_parses(tmp_path: Path) -> None:
    (tmp_path / "rootfs").mkdir()
    spec = parse(default_spec(), str(tmp_path))
    assert spec.root_path == str(tmp_path / "rootfs")
    assert [n.type for n in spec.linux.namespaces] == ["pid", "network", "ipc", "uts",
                                                       "mount", "cgroup"]
    assert spec.process is not None and spec.process.no_new_privileges


def test_mount_options() -> None:
    opts = mountopts.parse(["rbind", "ro", "nosuid", "rprivate", "size=1m", "rro"])
    from hull.linux import mount as m
    assert opts.flags == m.MS_BIND | m.MS_REC | m.MS_RDONLY | m.MS_NOSUID
    assert opts.propagation == [m.MS_PRIVATE | m.MS_REC]
    assert opts.data == ["size=1m"] and opts.extra == {"rro"}
    assert mountopts.parse(["ro", "rw"]).flags == 0


def test_status_rules() -> None:
    assert Status.CREATED.can_start and not Status.RUNNING.can_start
    assert Status.STOPPED.can_delete and not Status.RUNNING.can_delete
    assert Status.PAUSED.can_resume and not Status.STOPPED.can_kill


def test_ids_and_signals() -> None:
    validate_id("abc-1.2_x+y")
    for bad in ("", "a/b", "..", "a b"):
        with pytest.raises(InvalidArgument):
            validate_id(bad)
    assert parse_signal("KILL") == parse_signal("SIGKILL") == parse_signal("9") == 9
    with pytest.raises(InvalidArgument):
        parse_signal("99")


def test_cgroup_v2_conversions() -> None:
    # the values runc and crun produce for the same inputs
    assert shares_to_weight(2) == 1
    assert shares_to_weight(1024) == 39
    assert shares_to_weight(262144) == 10000
    assert blkio_to_io_weight(10) == 1
    assert blkio_to_io_weight(1000) == 10000


def test_sizes() -> None:
    assert parse_size("64m") == 64 << 20
    assert parse_size("1024") == 1024
    assert parse_size("1g") == 1 << 30
    with pytest.raises(InvalidArgument):
        parse_size("12q")


def test_device_filter_program_shape() -> None:
    code = program([DeviceRule(False, "a"), DeviceRule(True, "c", 1, 3, "rwm")])
    assert len(code) % 8 == 0
    # prelude (6) + allow rule (type, major, minor, 3 access, 2 verdict) + deny-all (3 + 2)
    # + default (2)
    assert len(code) // 8 == 6 + 8 + 5 + 2
    assert code[-16] == 0xB7 and code[-8] == 0x95   # r0 = 0 (deny); exit
