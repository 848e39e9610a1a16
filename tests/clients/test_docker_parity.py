"""A default hull container is at least as locked down as a default Docker container: the
same probe (tests/security/probe.py) run in both, by a private dockerd with its own root,
must give hull's answers equal to Docker's or stricter — capability sets, seccomp mode,
which syscalls and socket families are refused, mount flags, masked files, read-only
kernel files."""

from __future__ import annotations

import pytest
from tests.clients.conftest import Docker
from tests.conftest import HullCLI
from tests.integration.conftest import hull  # noqa: F401
from tests.security.probing import probe

pytestmark = pytest.mark.root


def _flags(opts: list[str]) -> set[str]:
    return {o for o in opts if o in ("ro", "nosuid", "nodev", "noexec")}


def test_hull_is_as_strict_as_docker(hull: HullCLI, docker: Docker) -> None:  # noqa: F811
    theirs = probe(docker, image="busybox:hull")
    ours = probe(hull)
    for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(ours["status"][key], 16) & ~int(theirs["status"][key], 16) == 0, key
    assert ours["status"]["Seccomp"] == theirs["status"]["Seccomp"] == "2"
    assert ours["status"]["NoNewPrivs"] >= theirs["status"]["NoNewPrivs"]
    weaker = [n for n, v in theirs["syscalls"].items()
              if v == "refused" and ours["syscalls"][n] != "refused"]
    assert not weaker, weaker
    assert ours["clone3_errno"] == theirs["clone3_errno"]
    assert [f for f, v in theirs["sockets"].items()
            if v == "refused" and ours["sockets"][f] != "refused"] == []
    for target, opts in theirs["mounts"].items():
        if target in ours["mounts"]:
            assert _flags(opts) <= _flags(ours["mounts"][target]), (target, opts)
    assert [p for p, v in theirs["masked"].items()
            if v == "hidden" and ours["masked"][p] != "hidden"] == []
    assert [p for p, v in theirs["writes"].items()
            if v != "writable" and ours["writes"][p] == "writable"] == []
    # and the comparison compared something: Docker refuses a good part of the list
    assert sum(v == "refused" for v in theirs["syscalls"].values()) > 30
