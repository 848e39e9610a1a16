"""The OCI runtime config (config.json), parsed into typed objects and validated up front.

Everything that can be checked without touching the kernel is checked here, so a bad config
fails before any state directory, cgroup, mount or process exists. Each error names the
field the way the spec spells it (e.g. "linux.namespaces[2].type").
"""

from __future__ import annotations

import os

from hull import fastjson
from hull.cgroups.resources import Resources
from hull.cgroups.resources import parse as parse_resources
from hull.errors import InvalidArgument, NotFound
from hull.linux.seccomp import Filter
from hull.record import field, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

NAMESPACE_TYPES = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")
HOOK_KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart",
              "poststop")
RLIMITS = {
    "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4,
    "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9,
    "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
    "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
}
CAP_SETS = ("bounding", "effective", "inheritable", "permitted", "ambient")


@record
class IdMapping:
    container_id: int
    host_id: int
    size: int

    def line(self) -> str:
        return f"{self.container_id} {self.host_id} {self.size}\n"


@record
class Mount:
    destination: str
    type: str = ""
    source: str = ""
    options: list[str] = field(default_factory=list)
    uid_mappings: list[IdMapping] = field(default_factory=list)
    gid_mappings: list[IdMapping] = field(default_factory=list)


@record
class Namespace:
    type: str
    path: str = ""


@record
class User:
    uid: int = 0
    gid: int = 0
    umask: int | None = None
    additional_gids: list[int] = field(default_factory=list)


@record
class Rlimit:
    type: str
    soft: int
    hard: int


@record
class Process:
    args: list[str]
    cwd: str = "/"
    env: list[str] = field(default_factory=list)
    terminal: bool = False
    console_size: tuple[int, int] | None = None   # (height, width)
    user: User = field(default_factory=User)
    capabilities: dict[str, list[str]] | None = None
    rlimits: list[Rlimit] = field(default_factory=list)
    no_new_privileges: bool = False
    apparmor_profile: str = ""
    selinux_label: str = ""
    oom_score_adj: int | None = None
    io_priority: tuple[str, int] | None = None
    scheduler: dict[str, Any] | None = None


@record
class Hook:
    path: str
    args: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    timeout: int | None = None


@record
class Device:
    path: str
    type: str
    major: int
    minor: int
    file_mode: int | None = None
    uid: int | None = None
    gid: int | None = None


@record
class Linux:
    namespaces: list[Namespace] = field(default_factory=list)
    uid_mappings: list[IdMapping] = field(default_factory=list)
    gid_mappings: list[IdMapping] = field(default_factory=list)
    time_offsets: dict[str, tuple[int, int]] = field(default_factory=dict)
    devices: list[Device] = field(default_factory=list)
    cgroups_path: str = ""
    resources: Resources = field(default_factory=Resources)
    rootfs_propagation: str = ""
    masked_paths: list[str] = field(default_factory=list)
    readonly_paths: list[str] = field(default_factory=list)
    sysctl: dict[str, str] = field(default_factory=dict)
    seccomp: Filter | None = None
    seccomp_listener: str = ""
    seccomp_listener_metadata: str = ""
    personality: int | None = None
    intel_rdt: dict[str, Any] | None = None

    def namespace(self, kind: str) -> Namespace | None:
        return next((n for n in self.namespaces if n.type == kind), None)


@record
class Spec:
    oci_version: str
    root_path: str
    root_readonly: bool
    process: Process | None
    mounts: list[Mount]
    hostname: str
    domainname: str
    hooks: dict[str, list[Hook]]
    annotations: dict[str, str]
    linux: Linux
    raw: dict[str, Any]


# ---- small typed getters that name the field on error ------------------------------------

def _obj(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument(f"{where}: expected an object")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidArgument(f"{where}: expected an array")
    return value


def _str(obj: dict[str, Any], key: str, where: str, default: str = "") -> str:
    value = obj.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise InvalidArgument(f"{where}.{key}: expected a string")
    return value


def _int(obj: dict[str, Any], key: str, where: str, default: int | None = None) -> int | None:
    value = obj.get(key, default)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise InvalidArgument(f"{where}.{key}: expected an integer")
    return value


def _strs(value: Any, where: str) -> list[str]:
    items = _list(value, where)
    if not all(isinstance(s, str) for s in items):
        raise InvalidArgument(f"{where}: expected an array of strings")
    return items


def _mappings(value: Any, where: str) -> list[IdMapping]:
    out = []
    for i, m in enumerate(_list(value, where)):
        w = f"{where}[{i}]"
        m = _obj(m, w)
        cid, hid, size = (_int(m, k, w) for k in ("containerID", "hostID", "size"))
        if cid is None or hid is None or size is None or cid < 0 or hid < 0 or size < 1:
            raise InvalidArgument(f"{w}: containerID, hostID must be >= 0 and size >= 1")
        out.append(IdMapping(cid, hid, size))
    return out


# ---- sections -------------------------------------------------------------------------------

def parse_process(raw: Any, where: str = "process") -> Process:
    from hull.linux.capabilities import CAP_NUMBERS
    p = _obj(raw, where)
    args = _strs(p.get("args"), f"{where}.args")
    if not args:
        raise InvalidArgument(f"{where}.args: must name the program to run")
    cwd = _str(p, "cwd", where, "/")
    if not cwd.startswith("/"):
        raise InvalidArgument(f"{where}.cwd: {cwd!r} must be an absolute path")
    u = _obj(p.get("user"), f"{where}.user")
    user = User(_int(u, "uid", f"{where}.user", 0) or 0, _int(u, "gid", f"{where}.user", 0) or 0,
                _int(u, "umask", f"{where}.user"),
                [int(g) for g in _list(u.get("additionalGids"), f"{where}.user.additionalGids")])
    caps = None
    if p.get("capabilities") is not None:
        caps = {}
        craw = _obj(p["capabilities"], f"{where}.capabilities")
        for kind in CAP_SETS:
            names = _strs(craw.get(kind), f"{where}.capabilities.{kind}")
            for name in names:
                if name not in CAP_NUMBERS:
                    raise InvalidArgument(f"{where}.capabilities.{kind}: unknown capability "
                                          f"{name!r}")
            caps[kind] = names
    rlimits = []
    for i, r in enumerate(_list(p.get("rlimits"), f"{where}.rlimits")):
        w = f"{where}.rlimits[{i}]"
        r = _obj(r, w)
        kind = _str(r, "type", w)
        if kind not in RLIMITS:
            raise InvalidArgument(f"{w}.type: unknown rlimit {kind!r}")
        soft, hard = _int(r, "soft", w, 0) or 0, _int(r, "hard", w, 0) or 0
        if soft > hard:
            raise InvalidArgument(f"{w}: soft limit {soft} is above hard limit {hard}")
        rlimits.append(Rlimit(kind, soft, hard))
    size = None
    if p.get("consoleSize"):
        cs = _obj(p["consoleSize"], f"{where}.consoleSize")
        size = (_int(cs, "height", f"{where}.consoleSize", 0) or 0,
                _int(cs, "width", f"{where}.consoleSize", 0) or 0)
    io = None
    if p.get("ioPriority"):
        ip = _obj(p["ioPriority"], f"{where}.ioPriority")
        from hull.linux.process import IOPRIO_CLASSES
        klass = _str(ip, "class", f"{where}.ioPriority")
        if klass not in IOPRIO_CLASSES:
            raise InvalidArgument(f"{where}.ioPriority.class: unknown class {klass!r}")
        prio = _int(ip, "priority", f"{where}.ioPriority", 0) or 0
        if not 0 <= prio <= 7:
            raise InvalidArgument(f"{where}.ioPriority.priority: {prio} is outside 0..7")
        io = (klass, prio)
    sched = None
    if p.get("scheduler"):
        from hull.linux.process import SCHED_FLAGS, SCHED_POLICIES
        sched = _obj(p["scheduler"], f"{where}.scheduler")
        if sched.get("policy") not in SCHED_POLICIES:
            raise InvalidArgument(f"{where}.scheduler.policy: unknown policy "
                                  f"{sched.get('policy')!r}")
        for flag in _strs(sched.get("flags"), f"{where}.scheduler.flags"):
            if flag not in SCHED_FLAGS:
                raise InvalidArgument(f"{where}.scheduler.flags: unknown flag {flag!r}")
    env = _strs(p.get("env"), f"{where}.env")
    return Process(
        args=args, cwd=cwd, env=env, terminal=bool(p.get("terminal")), console_size=size,
        user=user, capabilities=caps, rlimits=rlimits,
        no_new_privileges=bool(p.get("noNewPrivileges")),
        apparmor_profile=_str(p, "apparmorProfile", where),
        selinux_label=_str(p, "selinuxLabel", where),
        oom_score_adj=_int(p, "oomScoreAdj", where), io_priority=io, scheduler=sched,
    )


def parse_hooks(raw: Any) -> dict[str, list[Hook]]:
    hooks: dict[str, list[Hook]] = {}
    h = _obj(raw, "hooks")
    for kind, items in h.items():
        if kind not in HOOK_KINDS:
            raise InvalidArgument(f"hooks.{kind}: unknown hook kind")
        for i, item in enumerate(_list(items, f"hooks.{kind}")):
            w = f"hooks.{kind}[{i}]"
            item = _obj(item, w)
            path = _str(item, "path", w)
            if not path.startswith("/"):
                raise InvalidArgument(f"{w}.path: {path!r} must be an absolute path")
            timeout = _int(item, "timeout", w)
            if timeout is not None and timeout <= 0:
                raise InvalidArgument(f"{w}.timeout: must be positive")
            hooks.setdefault(kind, []).append(
                Hook(path, _strs(item.get("args"), f"{w}.args"),
                     _strs(item.get("env"), f"{w}.env"), timeout))
    return hooks


def _parse_seccomp(raw: Any) -> tuple[Filter, str, str]:
    from hull.linux import seccomp as sc
    s = _obj(raw, "linux.seccomp")

    def action(name: Any, errno_ret: Any, where: str) -> int:
        table = {"SCMP_ACT_KILL": sc.SCMP_ACT_KILL_THREAD,
                 "SCMP_ACT_KILL_THREAD": sc.SCMP_ACT_KILL_THREAD,
                 "SCMP_ACT_KILL_PROCESS": sc.SCMP_ACT_KILL_PROCESS,
                 "SCMP_ACT_TRAP": sc.SCMP_ACT_TRAP, "SCMP_ACT_ALLOW": sc.SCMP_ACT_ALLOW,
                 "SCMP_ACT_LOG": sc.SCMP_ACT_LOG, "SCMP_ACT_NOTIFY": sc.SCMP_ACT_NOTIFY}
        if name == "SCMP_ACT_ERRNO":
            import errno
            return sc.act_errno(errno.EPERM if errno_ret is None else int(errno_ret))
        if name == "SCMP_ACT_TRACE":
            import errno
            return sc.act_trace(errno.EPERM if errno_ret is None else int(errno_ret))
        if name not in table:
            raise InvalidArgument(f"{where}: unknown seccomp action {name!r}")
        return table[name]

    flt = sc.Filter(action(s.get("defaultAction"), s.get("defaultErrnoRet"),
                           "linux.seccomp.defaultAction"))
    for arch in _strs(s.get("architectures"), "linux.seccomp.architectures"):
        if arch not in sc.ARCHES:
            raise InvalidArgument(f"linux.seccomp.architectures: unknown architecture {arch!r}")
        flt.architectures.append(arch)
    for flag in _strs(s.get("flags"), "linux.seccomp.flags"):
        if flag not in sc._FLAG_ATTRS:
            raise InvalidArgument(f"linux.seccomp.flags: unknown flag {flag!r}")
        flt.flags.append(flag)
    for i, rule in enumerate(_list(s.get("syscalls"), "linux.seccomp.syscalls")):
        w = f"linux.seccomp.syscalls[{i}]"
        rule = _obj(rule, w)
        names = _strs(rule.get("names"), f"{w}.names")
        if not names:
            raise InvalidArgument(f"{w}.names: must name at least one syscall")
        conds = []
        for j, a in enumerate(_list(rule.get("args"), f"{w}.args")):
            a = _obj(a, f"{w}.args[{j}]")
            if a.get("op") not in sc.OPERATORS:
                raise InvalidArgument(f"{w}.args[{j}].op: unknown operator {a.get('op')!r}")
            conds.append(sc.Condition(int(a.get("index", 0)), a["op"], int(a.get("value", 0)),
                                      int(a.get("valueTwo", 0))))
        flt.rules.append(sc.Rule(names, action(rule.get("action"), rule.get("errnoRet"),
                                               f"{w}.action"), conds))
    listener = _str(s, "listenerPath", "linux.seccomp")
    if any(r.action == sc.SCMP_ACT_NOTIFY for r in flt.rules) and not listener:
        raise InvalidArgument("linux.seccomp.listenerPath: required when a rule uses "
                              "SCMP_ACT_NOTIFY")
    return flt, listener, _str(s, "listenerMetadata", "linux.seccomp")


def parse_linux(raw: Any) -> Linux:
    lx = _obj(raw, "linux")
    out = Linux()
    seen = set()
    for i, n in enumerate(_list(lx.get("namespaces"), "linux.namespaces")):
        w = f"linux.namespaces[{i}]"
        n = _obj(n, w)
        kind = _str(n, "type", w)
        if kind not in NAMESPACE_TYPES:
            raise InvalidArgument(f"{w}.type: unknown namespace type {kind!r}")
        if kind in seen:
            raise InvalidArgument(f"{w}.type: duplicate namespace {kind!r}")
        seen.add(kind)
        path = _str(n, "path", w)
        if path and not os.path.exists(path):
            raise InvalidArgument(f"{w}.path: {path} does not exist")
        out.namespaces.append(Namespace(kind, path))
    out.uid_mappings = _mappings(lx.get("uidMappings"), "linux.uidMappings")
    out.gid_mappings = _mappings(lx.get("gidMappings"), "linux.gidMappings")
    user_ns = out.namespace("user")
    if (out.uid_mappings or out.gid_mappings) and (user_ns is None or user_ns.path):
        raise InvalidArgument("linux.uidMappings: mappings need a new user namespace")
    if user_ns and not user_ns.path and not (out.uid_mappings and out.gid_mappings):
        raise InvalidArgument("linux.uidMappings: a new user namespace needs uidMappings and "
                              "gidMappings")
    for clock, off in _obj(lx.get("timeOffsets"), "linux.timeOffsets").items():
        if clock not in ("monotonic", "boottime"):
            raise InvalidArgument(f"linux.timeOffsets: unknown clock {clock!r}")
        off = _obj(off, f"linux.timeOffsets.{clock}")
        out.time_offsets[clock] = (_int(off, "secs", "linux.timeOffsets", 0) or 0,
                                   _int(off, "nanosecs", "linux.timeOffsets", 0) or 0)
    if out.time_offsets and (out.namespace("time") is None or out.namespace("time").path):  # type: ignore[union-attr]
        raise InvalidArgument("linux.timeOffsets: offsets need a new time namespace")
    for i, d in enumerate(_list(lx.get("devices"), "linux.devices")):
        w = f"linux.devices[{i}]"
        d = _obj(d, w)
        path = _str(d, "path", w)
        kind = _str(d, "type", w)
        if not path.startswith("/dev/"):
            raise InvalidArgument(f"{w}.path: {path!r} must be under /dev")
        if kind not in ("c", "b", "u", "p"):
            raise InvalidArgument(f"{w}.type: unknown device type {kind!r}")
        out.devices.append(Device(path, kind, _int(d, "major", w, 0) or 0,
                                  _int(d, "minor", w, 0) or 0, _int(d, "fileMode", w),
                                  _int(d, "uid", w), _int(d, "gid", w)))
    out.cgroups_path = _str(lx, "cgroupsPath", "linux")
    out.resources = parse_resources(lx.get("resources"))
    prop = _str(lx, "rootfsPropagation", "linux")
    if prop and prop not in ("shared", "slave", "private", "unbindable", "rshared", "rslave",
                             "rprivate", "runbindable"):
        raise InvalidArgument(f"linux.rootfsPropagation: unknown propagation {prop!r}")
    out.rootfs_propagation = prop
    out.masked_paths = _strs(lx.get("maskedPaths"), "linux.maskedPaths")
    out.readonly_paths = _strs(lx.get("readonlyPaths"), "linux.readonlyPaths")
    out.sysctl = {str(k): str(v) for k, v in _obj(lx.get("sysctl"), "linux.sysctl").items()}
    if lx.get("seccomp") is not None:
        out.seccomp, out.seccomp_listener, out.seccomp_listener_metadata = \
            _parse_seccomp(lx["seccomp"])
    if lx.get("personality"):
        per = _obj(lx["personality"], "linux.personality")
        domains = {"LINUX": 0x0000, "LINUX32": 0x0008}
        if per.get("domain") not in domains:
            raise InvalidArgument(f"linux.personality.domain: unknown domain "
                                  f"{per.get('domain')!r}")
        out.personality = domains[per["domain"]]
    if lx.get("intelRdt"):
        out.intel_rdt = _obj(lx["intelRdt"], "linux.intelRdt")
    return out


def parse(raw: Any, bundle: str) -> Spec:
    cfg = _obj(raw, "config.json")
    version = _str(cfg, "ociVersion", "config.json")
    if not version.startswith("1."):
        raise InvalidArgument(f"ociVersion: {version!r} is not a supported OCI version (1.x)")
    root = _obj(cfg.get("root"), "root")
    root_path = _str(root, "path", "root")
    if not root_path:
        raise InvalidArgument("root.path: required")
    rootfs = root_path if root_path.startswith("/") else \
        os.path.realpath(os.path.join(bundle, root_path))
    if not os.path.isdir(rootfs):
        raise InvalidArgument(f"root.path: {rootfs} is not a directory")
    mounts = []
    for i, m in enumerate(_list(cfg.get("mounts"), "mounts")):
        w = f"mounts[{i}]"
        m = _obj(m, w)
        dest = _str(m, "destination", w)
        if not dest.startswith("/"):
            raise InvalidArgument(f"{w}.destination: {dest!r} must be an absolute path")
        mounts.append(Mount(dest, _str(m, "type", w), _str(m, "source", w),
                            _strs(m.get("options"), f"{w}.options"),
                            _mappings(m.get("uidMappings"), f"{w}.uidMappings"),
                            _mappings(m.get("gidMappings"), f"{w}.gidMappings")))
    process = parse_process(cfg["process"]) if cfg.get("process") is not None else None
    linux = parse_linux(cfg.get("linux"))
    hostname = _str(cfg, "hostname", "config.json")
    if hostname and linux.namespace("uts") is None:
        raise InvalidArgument("hostname: setting a hostname needs a new uts namespace")
    annotations = _obj(cfg.get("annotations"), "annotations")
    return Spec(version, rootfs, bool(root.get("readonly")), process, mounts, hostname,
                _str(cfg, "domainname", "config.json"), parse_hooks(cfg.get("hooks")),
                {str(k): str(v) for k, v in annotations.items()}, linux, cfg)


def load(bundle: str) -> Spec:
    path = os.path.join(bundle, "config.json")
    if not os.path.isdir(bundle):
        raise NotFound(f"bundle {bundle}: no such directory")
    try:
        with open(path, "rb") as f:
            raw = fastjson.loads(f.read())
    except FileNotFoundError:
        raise NotFound(f"{path}: no such file") from None
    except ValueError as e:   # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise InvalidArgument(f"{path}: malformed JSON: {e}") from None
    return parse(raw, os.path.realpath(bundle))
