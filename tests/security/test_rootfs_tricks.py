"""Hostile images and volumes: whatever an image's filesystem or config says, the engine and
the runtime only ever touch paths inside the container's root. Each test puts a canary on
the host where a naive engine would write, and checks it afterwards."""

from __future__ import annotations

import io
import secrets
import subprocess
import tarfile
from pathlib import Path

import pytest
from tests.conftest import HullCLI, one_problem
from tests.integration.test_layer_apply import BREAKOUTS, Host
from tests.security.probing import image_with, tar_entry

pytestmark = pytest.mark.root


class Canary:
    """A host directory with one file, which nothing from a container may change."""

    def __init__(self, tmp_path: Path) -> None:
        self.dir = tmp_path / f"canary-{secrets.token_hex(4)}"
        self.dir.mkdir()
        (self.dir / "file").write_text("host\n")

    def untouched(self) -> None:
        assert sorted(p.name for p in self.dir.iterdir()) == ["file"]
        assert (self.dir / "file").read_text() == "host\n"
        mounts = Path("/proc/self/mountinfo").read_text()
        assert f" {self.dir} " not in mounts and f" {self.dir}/" not in mounts


def _one_line_error(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode != 0 and one_problem(proc.stderr), proc


def test_proc_symlink_in_image(hull: HullCLI, tmp_path: Path) -> None:
    """CVE-2019-16884/CVE-2019-19921 class: /proc in the image is a symlink (to a fake
    directory, or to a host path). The runtime must mount the real procfs inside the root
    or refuse; it must never write through a fake /proc or mount onto the host path."""
    canary = Canary(tmp_path)
    for target in ("/fakeproc", str(canary.dir), "../../../../../../.." + str(canary.dir)):
        image = image_with(hull, tmp_path, f"evil/proc:{secrets.token_hex(2)}", [
            tar_entry("fakeproc", tarfile.DIRTYPE, mode=0o755),
            tar_entry("fakeproc/self", tarfile.DIRTYPE, mode=0o755),
            tar_entry("proc", tarfile.SYMTYPE, link=target)])
        proc = hull("run", "--rm", image, "sh", "-c",
                    "stat -f -c %T /proc; ls /fakeproc/self; cat /proc/self/attr/current",
                    check=False)
        if proc.returncode == 0 or proc.stdout:
            assert proc.stdout.splitlines()[0] == "proc", proc.stdout   # the real one
            assert "attr" not in proc.stdout.splitlines()[1:2], proc.stdout
        else:
            _one_line_error(proc)
        canary.untouched()


def test_dev_null_symlink_in_image(hull: HullCLI, tmp_path: Path) -> None:
    """CVE-2025-31133 class: /dev/null (used to mask files) is a symlink in the image to a
    file the attacker wants writable. The masks must still hide what they hide, /dev/null
    must be the real device, and the symlink's target must not be touched."""
    canary = Canary(tmp_path)
    host_core = Path("/proc/sys/kernel/core_pattern").read_text()
    image = image_with(hull, tmp_path, "evil/devnull", [
        tar_entry("dev", tarfile.DIRTYPE, mode=0o755),
        tar_entry("dev/null", tarfile.SYMTYPE, link="/proc/sys/kernel/core_pattern"),
        tar_entry("dev/zero", tarfile.SYMTYPE, link=str(canary.dir / "file"))])
    proc = hull("run", "--rm", image, "sh", "-c",
                "stat -c '%t:%T %F' /dev/null; wc -c < /proc/interrupts; "
                "echo '|/tmp/x' > /proc/sys/kernel/core_pattern; echo pwn > /dev/zero; true",
                check=False)
    if proc.returncode == 0:
        first, masked = proc.stdout.splitlines()[:2]
        assert first == "1:3 character special file", proc.stdout
        assert masked.strip() == "0"   # still hidden (the host's has content)
    else:
        _one_line_error(proc)
    assert Path("/proc/sys/kernel/core_pattern").read_text() == host_core
    canary.untouched()


def test_image_volume_path_traversal(hull: HullCLI, tmp_path: Path) -> None:
    """CVE-2022-23648 class: an image's VOLUME with ../ in it must name a path inside the
    container (Docker cleans it), never copy host files into the volume or mount over a
    host directory."""
    canary = Canary(tmp_path)
    evil = "/../../../../../../../.." + str(canary.dir)
    image = image_with(hull, tmp_path, "evil/volume", [], changes=(f'VOLUME ["{evil}"]',))
    proc = hull("run", "--name", "v", image, "sh", "-c",
                f"ls -a {canary.dir}; echo pwn > {canary.dir}/new", check=False)
    if proc.returncode == 0:
        assert "file" not in proc.stdout   # the host's file was not copied up
        dests = hull("inspect", "-f", "{{range .Mounts}}{{.Destination}} {{end}}",
                     "v").stdout.split()
        assert dests == [str(canary.dir)], dests
    else:
        _one_line_error(proc)
    hull("rm", "-fv", "v", check=False)
    canary.untouched()


def test_mount_target_symlink_in_image(hull: HullCLI, tmp_path: Path) -> None:
    """A mount target that is an absolute or ../ symlink in the image is resolved inside
    the root: the bind, volume or tmpfs lands in the container, not on the host path."""
    canary = Canary(tmp_path)
    src = tmp_path / "bind-source"
    src.mkdir()
    image = image_with(hull, tmp_path, "evil/targets", [
        tar_entry("abs", tarfile.SYMTYPE, link=str(canary.dir)),
        tar_entry("rel", tarfile.SYMTYPE, link="../../../../../.." + str(canary.dir)),
    ])
    for flags in (["-v", f"{src}:/abs"], ["--tmpfs", "/rel"], ["-v", "vol:/abs"],
                  ["--mount", f"type=bind,src={src},dst=/rel/sub"]):
        proc = hull("run", "--rm", *flags, image, "sh", "-c",
                    f"echo pwn > {canary.dir}/new; ls {canary.dir}", check=False)
        if proc.returncode == 0:
            assert "file" not in proc.stdout, (flags, proc.stdout)
        else:
            _one_line_error(proc)
        canary.untouched()
    hull("volume", "rm", "vol", check=False)


def test_mount_target_swapped_for_a_symlink_during_start(hull: HullCLI,
                                                         tmp_path: Path) -> None:
    """CVE-2021-30465 class: a container shares a volume with a second one being started
    and keeps swapping a directory in it with a symlink to a host path, hoping one of the
    second container's nested mounts follows the link. Resolution inside the root (openat2
    RESOLVE_IN_ROOT, mounting through the resolved descriptor) leaves no window."""
    canary = Canary(tmp_path)
    hull("run", "-d", "--name", "swapper", "-v", "shared:/v", "busybox", "sh", "-c",
         f"mkdir -p /v/d; while true; do mv /v/d /v/d.dir; ln -s {canary.dir} /v/d; "
         "rm /v/d; mv /v/d.dir /v/d; done")
    started = 0
    for _ in range(15):
        proc = hull("run", "--rm", "-v", "shared:/mnt", "--tmpfs", "/mnt/d/x", "busybox",
                    "true", check=False)
        started += proc.returncode == 0
        canary.untouched()
    hull("rm", "-f", "swapper")
    hull("volume", "rm", "shared")
    assert started > 0   # the race was run, not only refused


def test_layer_breakouts_through_the_engine(hull: HullCLI, tmp_path: Path) -> None:
    """The layer-apply breakout corpus (tests/integration/test_layer_apply.py), each case
    imported as an image and run: either refused with one line, or the container runs and
    nothing outside its root changed."""
    for i, (name, make, _fails) in enumerate(BREAKOUTS):
        case = tmp_path / f"case{i}"
        case.mkdir()
        host = Host(case)
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
            for info, data in make(host):
                tar.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)
        archive = case / "layer.tar"
        archive.write_bytes(buf.getvalue())
        imported = hull("import", str(archive), f"evil/layer:{i}", check=False)
        if imported.returncode == 0:
            ran = hull("run", "--rm", f"evil/layer:{i}", "/no-such-command", check=False)
            assert ran.returncode == 127, (name, ran)   # made, started, found nothing
        else:
            _one_line_error(imported)
        host.untouched()


def test_cp_race_against_a_looping_container(hull: HullCLI, tmp_path: Path) -> None:
    """cp into a container whose process keeps replacing the destination directory with a
    symlink to a host path: the copy lands inside the container or fails, never on the
    host (tests/integration/test_cp.py covers the static symlink tricks)."""
    canary = Canary(tmp_path)
    payload = tmp_path / "payload"
    payload.write_text("pwn\n")
    hull("run", "-d", "--name", "racer", "busybox", "sh", "-c",
         f"mkdir -p /dst; while true; do mv /dst /dst.d; ln -s {canary.dir} /dst; rm /dst; "
         "mv /dst.d /dst; done")
    try:
        for _ in range(20):
            hull("cp", str(payload), "racer:/dst/", check=False)
            canary.untouched()
    finally:
        hull("rm", "-f", "racer")


def test_export_commit_diff_race_against_a_swapping_container(hull: HullCLI,
                                                               tmp_path: Path) -> None:
    """A running container keeps swapping a directory of its rw layer for a symlink to a
    host directory while hull walks that layer (export, commit --pause=false, diff): the
    walk goes directory by directory through descriptors (os.fwalk), so the host
    directory's content never ends up in an archive or an image; entries that vanish
    mid-walk are left out instead of failing the command (path-string walks failed
    with "No such file or directory" again and again under this race)."""
    canary = Canary(tmp_path)
    (canary.dir / "file").write_text("host\n")
    hull("run", "-d", "--name", "swapper", "busybox", "sh", "-c",
         "mkdir -p /d; for i in $(seq 50); do mkdir /d/sub$i; echo c > /d/sub$i/f; done; "
         f"while true; do mv /d /d.x; ln -s {canary.dir} /d; rm /d; mv /d.x /d; done")
    exported = tmp_path / "out.tar"
    try:
        for i in range(15):
            hull("export", "-o", str(exported), "swapper")
            with tarfile.open(exported) as tar:
                names = tar.getnames()
            assert not any(n.endswith("d/file") for n in names), names
            hull("commit", "--pause=false", "swapper", f"snap:{i}")
            assert "/d/file" not in hull("diff", "swapper").stdout
        for i in range(15):
            ran = hull("run", "--rm", f"snap:{i}", "sh", "-c", "cat /d/file /d.x/file",
                       check=False)
            assert "host" not in ran.stdout
    finally:
        hull("rm", "-f", "swapper")
    canary.untouched()
