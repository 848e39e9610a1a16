"""`run`/`create` flags turned into Docker's HostConfig fields, checked before anything is
created. Each parser names the flag it refuses (exit 125), the way `docker run` does, so a
typo costs nothing: no record, snapshot, cgroup or mount exists yet.

The result is stored as the container's HostConfig (what `inspect` shows) and later turned
into the OCI spec by ocispec.py; keeping the Docker shape in between is what lets a user
read `inspect` and recognise their command line.
"""

from __future__ import annotations

import os
import stat

from hull.engine.securityopt import split_opt
from hull.errors import FlagError, InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def size(text: str | None, flag: str) -> int | None:
    """Docker's RAMInBytes: 64m, 1.5g, 512k, 1024 (bytes)."""
    if text is None:
        return None
    value = text.strip().lower()
    num = value.rstrip("bkmgt")
    suffix = value[len(num):]
    if len(suffix) == 2 and suffix.endswith("b"):
        suffix = suffix[0]
    try:
        n = float(num)
        if n < 0:
            raise ValueError
        return int(n * _UNITS[suffix])
    except (ValueError, KeyError):
        raise FlagError(f'invalid argument "{text}" for "{_flag(flag)}" flag: invalid size: '
                        f"'{text}'") from None


def nano_cpus(text: str, zero_ok: bool = False) -> int:
    """--cpus 1.5 as NanoCpus; refused as Docker's flag parser refuses it."""
    try:
        cpus = float(text)
    except ValueError:
        raise FlagError(f'invalid argument "{text}" for "--cpus" flag: failed to parse '
                        f"{text} as a rational number") from None
    if cpus < 0 or (cpus == 0 and not zero_ok):
        raise InvalidArgument(f"invalid argument {text!r} for --cpus: must be positive")
    return int(cpus * 1e9)


def _flag(flag: str) -> str:
    """"-m/--memory" as Docker names a flag in its messages: "-m, --memory"."""
    return flag.replace("/", ", ")


def integer(text: str | int | None, flag: str, low: int | None = None,
            high: int | None = None) -> int | None:
    if text is None:
        return None
    try:
        n = int(text)
    except ValueError:
        raise FlagError(f'invalid argument "{text}" for "{_flag(flag)}" flag: '
                        f'strconv.ParseInt: parsing "{text}": invalid syntax') from None
    if (low is not None and n < low) or (high is not None and n > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise InvalidArgument(f"invalid argument {text!r} for {flag}: must be {bounds}")
    return n


# ---- namespaces -----------------------------------------------------------------------

def namespace_mode(value: str | None, flag: str, allowed: tuple[str, ...]) -> str:
    """--ipc/--pid/--uts: one of `allowed`, or container:NAME where the flag permits it."""
    if not value:
        return ""
    if value in allowed or (value.startswith("container:") and "container" in allowed
                            and len(value) > len("container:")):
        return value
    raise InvalidArgument(f"invalid {flag} value {value!r}: expected "
                          + ", ".join(a if a != "container" else "container:NAME"
                                      for a in allowed))


# ---- capabilities and security options --------------------------------------------------

def capabilities(names: list[str] | None, flag: str) -> list[str]:
    from hull.linux.capabilities import CAP_NUMBERS as CAPS
    out = []
    for raw in names or []:
        name = raw.strip().upper()
        if name == "ALL":
            out.append("ALL")
            continue
        if not name.startswith("CAP_"):
            name = "CAP_" + name
        if name not in CAPS:
            raise InvalidArgument(f"invalid {flag} value {raw!r}: unknown capability")
        out.append(name)
    return out


def security_opts(values: list[str] | None) -> list[str]:
    """no-new-privileges[:true|false], seccomp=unconfined|PROFILE.json, label=…,
    apparmor=…, systempaths=unconfined. A seccomp profile file is read now and its content
    kept in place of the name (`seccomp=<json>`, as Docker's CLI sends it): the container
    keeps the profile it was created with, whatever later happens to the file."""
    out = []
    for raw in values or []:
        key, sep, value = split_opt(raw)
        if key == "no-new-privileges":
            if sep and value not in ("true", "false"):
                raise InvalidArgument(f"invalid --security-opt {raw!r}: no-new-privileges "
                                      "takes true or false")
        elif key == "seccomp":
            if value != "unconfined":
                from hull import fastjson
                from hull.engine import seccomp_profile
                profile = seccomp_profile.load(value)   # refuse a malformed one now
                seccomp_profile.warn_unknown_syscalls(profile, value)
                raw = "seccomp=" + fastjson.dumps(profile)
        elif key in ("label", "apparmor"):
            pass   # no LSM is enforced by hull (docs/engine.md); accepted like Docker does
        elif key == "systempaths":
            if value != "unconfined":
                raise InvalidArgument(f"invalid --security-opt {raw!r}: systempaths takes "
                                      "unconfined")
        else:
            raise InvalidArgument(f"invalid --security-opt {raw!r}: unknown option {key!r}")
        out.append(raw)
    return out


# ---- limits ------------------------------------------------------------------------------

_RLIMITS = ("core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile",
            "nproc", "rss", "rtprio", "rttime", "sigpending", "stack", "as")


def ulimit(text: str) -> dict[str, Any]:
    """--ulimit nofile=1024:2048 (soft:hard; one number sets both)."""
    name, eq, value = text.partition("=")
    if not eq or name not in _RLIMITS:
        raise InvalidArgument(f"invalid --ulimit {text!r}: expected NAME=SOFT[:HARD] with "
                              f"NAME one of {', '.join(_RLIMITS)}")
    soft_s, _, hard_s = value.partition(":")
    try:
        soft = int(soft_s)
        hard = int(hard_s) if hard_s else soft
    except ValueError:
        raise InvalidArgument(f"invalid --ulimit {text!r}: limits must be integers") from None
    if soft > hard:
        raise InvalidArgument(f"invalid --ulimit {text!r}: soft limit above hard limit")
    return {"Name": name, "Soft": soft, "Hard": hard}


_SYSCTL_IPC = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
               "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced")


def sysctl(text: str, network: str, ipc: str, uts: str) -> tuple[str, str]:
    """Only sysctls the container's own namespaces scope are allowed (Docker's rule): the
    rest would change the host."""
    key, eq, value = text.partition("=")
    if not eq or not key:
        raise InvalidArgument(f"invalid --sysctl {text!r}: expected KEY=VALUE")
    if key in _SYSCTL_IPC or key.startswith("fs.mqueue."):
        if ipc == "host":
            raise InvalidArgument(f"--sysctl {key}: not allowed with --ipc=host")
    elif key.startswith("net."):
        if network == "host":
            raise InvalidArgument(f"--sysctl {key}: not allowed with --network=host")
    elif key in ("kernel.domainname", "kernel.hostname"):
        raise InvalidArgument(f"--sysctl {key}: use --domainname/--hostname instead"
                              if uts != "host" else f"--sysctl {key}: not allowed with "
                              "--uts=host")
    else:
        raise InvalidArgument(f"--sysctl {key}: not allowed, it is not namespaced (it would "
                              "change the host)")
    return key, value


def _device_numbers(path: str, flag: str) -> tuple[str, int, int]:
    try:
        info = os.stat(path)
    except OSError as e:
        raise InvalidArgument(f"invalid {flag} {path!r}: {e.strerror}") from None
    if stat.S_ISCHR(info.st_mode):
        kind = "c"
    elif stat.S_ISBLK(info.st_mode):
        kind = "b"
    else:
        raise InvalidArgument(f"invalid {flag} {path!r}: not a device")
    return kind, os.major(info.st_rdev), os.minor(info.st_rdev)


def device(text: str) -> dict[str, Any]:
    """--device HOST[:CONTAINER][:PERMISSIONS]."""
    parts = text.split(":")
    host = parts[0]
    perms = "rwm"
    if len(parts) > 1 and parts[-1] and set(parts[-1]) <= set("rwm") \
            and not parts[-1].startswith("/"):
        perms = parts.pop()
    inside = parts[1] if len(parts) > 1 else host
    if len(parts) > 2 or not host.startswith("/") or not inside.startswith("/"):
        raise InvalidArgument(f"invalid --device {text!r}: expected "
                              "/dev/HOST[:/dev/CONTAINER][:rwm]")
    _device_numbers(host, "--device")
    return {"PathOnHost": host, "PathInContainer": inside, "CgroupPermissions": perms}


def throttle(text: str, flag: str, iops: bool) -> dict[str, Any]:
    """--device-read-bps /dev/sda:1mb, --device-write-iops /dev/sda:100."""
    path, _, rate_s = text.rpartition(":")
    if not path.startswith("/"):
        raise InvalidArgument(f"invalid {flag} {text!r}: expected /dev/DEVICE:RATE")
    rate = integer(rate_s, flag, 0) if iops else size(rate_s, flag)
    kind, _, _ = _device_numbers(path, flag)
    if kind != "b":
        raise InvalidArgument(f"invalid {flag} {path!r}: not a block device")
    return {"Path": path, "Rate": rate}


def weight_device(text: str) -> dict[str, Any]:
    path, _, w = text.rpartition(":")
    kind, _, _ = _device_numbers(path, "--blkio-weight-device")
    if kind != "b":
        raise InvalidArgument(f"invalid --blkio-weight-device {path!r}: not a block device")
    return {"Path": path, "Weight": integer(w, "--blkio-weight-device", 10, 1000)}


def device_numbers(path: str) -> tuple[int, int]:
    _, major, minor = _device_numbers(path, "device")
    return major, minor


# ---- mounts ---------------------------------------------------------------------------------

_PROPAGATION = ("shared", "slave", "private", "rshared", "rslave", "rprivate")


def volume(text: str) -> dict[str, Any]:
    """-v SRC:DST[:OPTS] / -v DST, as a Docker MountPoint: SRC starting with / is a bind
    mount, any other SRC names a volume, no SRC an anonymous volume."""
    parts = text.split(":")
    if len(parts) == 1:
        src, dst, mode = "", parts[0], ""
    elif len(parts) == 2:
        if parts[1].startswith("/"):
            src, dst, mode = parts[0], parts[1], ""
        else:
            src, dst, mode = "", parts[0], parts[1]
    elif len(parts) == 3:
        src, dst, mode = parts
    else:
        raise InvalidArgument(f"invalid -v {text!r}: expected [SOURCE:]DESTINATION[:OPTIONS]")
    if not dst.startswith("/") or dst == "/":
        raise InvalidArgument(f"invalid -v {text!r}: the destination must be an absolute "
                              "path other than /")
    rw, propagation = True, ""
    for opt in filter(None, mode.split(",")):
        if opt in ("ro", "rw"):
            rw = opt == "rw"
        elif opt in _PROPAGATION:
            propagation = opt
        elif opt in ("z", "Z", "nocopy", "consistent", "cached", "delegated"):
            pass   # SELinux relabel / macOS hints: nothing to do on this host
        else:
            raise InvalidArgument(f"invalid -v {text!r}: unknown option {opt!r}")
    if src.startswith("/"):
        if not os.path.exists(src):
            os.makedirs(src, exist_ok=True)   # what docker does for -v with a missing source
        return {"Type": "bind", "Source": os.path.normpath(src), "Destination": dst,
                "Mode": mode, "RW": rw, "Propagation": propagation or "rprivate"}
    if src and not (src[0].isalnum() and all(c.isalnum() or c in "_.-" for c in src)):
        raise InvalidArgument(f"invalid -v {text!r}: {src!r} is neither an absolute host path "
                              "nor a volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)")
    return {"Type": "volume", "Name": src, "Source": "", "Destination": dst, "Driver": "local",
            # a named volume's default mode is "z" in Docker's inspect
            "Mode": mode or ("z" if src else ""), "RW": rw, "Propagation": ""}


def mount(text: str) -> dict[str, Any]:
    """--mount type=bind|volume|tmpfs,source=…,target=…[,readonly][,…] as a MountPoint
    (tmpfs ones carry their size and mode)."""
    fields: dict[str, str] = {}
    for item in text.split(","):
        k, eq, v = item.partition("=")
        fields[k.strip().lower()] = v if eq else "true"
    kind = fields.pop("type", "volume")
    src = fields.pop("source", fields.pop("src", ""))
    dst = fields.pop("target", fields.pop("destination", fields.pop("dst", "")))
    ro = fields.pop("readonly", fields.pop("ro", "false")) in ("true", "1")
    if not dst.startswith("/"):
        raise InvalidArgument(f"invalid --mount {text!r}: target must be an absolute path")
    entry: dict[str, Any] = {"Type": kind, "Source": src, "Destination": dst, "Mode": "",
                             "RW": not ro, "Propagation": ""}
    if kind == "bind":
        if not src.startswith("/"):
            raise InvalidArgument(f"invalid --mount {text!r}: a bind mount needs an absolute "
                                  "source")
        if not os.path.exists(src):
            raise InvalidArgument(f"invalid --mount {text!r}: bind source path does not "
                                  f"exist: {src}")
        entry["Source"] = os.path.normpath(src)
        propagation = fields.pop("bind-propagation", "rprivate")
        if propagation not in _PROPAGATION:
            raise InvalidArgument(f"invalid --mount {text!r}: bad bind-propagation")
        entry["Propagation"] = propagation
    elif kind == "volume":
        entry.update(Name=src, Source="", Driver="local")
        fields.pop("volume-nocopy", None)
    elif kind == "tmpfs":
        if src:
            raise InvalidArgument(f"invalid --mount {text!r}: a tmpfs has no source")
        opts = []
        if "tmpfs-size" in fields:
            opts.append(f"size={size(fields.pop('tmpfs-size'), '--mount tmpfs-size')}")
        if "tmpfs-mode" in fields:
            mode = fields.pop("tmpfs-mode")
            try:
                int(mode, 8)
            except ValueError:
                raise InvalidArgument(f"invalid --mount {text!r}: tmpfs-mode is octal") \
                    from None
            opts.append(f"mode={mode}")
        entry["TmpfsOptions"] = opts
    else:
        raise InvalidArgument(f"invalid --mount {text!r}: type must be bind, volume or tmpfs")
    fields.pop("consistency", None)
    if fields:
        raise InvalidArgument(f"invalid --mount {text!r}: unknown field "
                              f"{next(iter(fields))!r}")
    return entry


def tmpfs(text: str) -> tuple[str, str]:
    """--tmpfs /run[:size=64m,mode=1777,…]"""
    path, _, opts = text.partition(":")
    if not path.startswith("/") or path == "/":
        raise InvalidArgument(f"invalid --tmpfs {text!r}: the path must be absolute, not /")
    for opt in filter(None, opts.split(",")):
        k = opt.partition("=")[0]
        if k not in ("size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "ro", "rw",
                     "exec", "noexec", "suid", "nosuid", "dev", "nodev", "atime", "noatime"):
            raise InvalidArgument(f"invalid --tmpfs {text!r}: unknown option {k!r}")
    return path, opts
