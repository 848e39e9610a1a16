"""The hull-runtime subcommands: each turns parsed flags into Runtime calls and prints."""

from __future__ import annotations

import os
import sys
import time

from hull import fastjson
from hull.errors import FailedPrecondition, InvalidArgument
from hull.runtime.create import CreateOptions
from hull.runtime.lifecycle import Runtime
from hull.runtime.signals import parse_signal
from hull.runtime.state import Status
from hull.trace import mark

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import SimpleNamespace as Args
    from typing import Any


def _runtime(args: Args) -> Runtime:
    return Runtime(args.root, systemd_cgroup=args.systemd_cgroup)


def _create_options(args: Args) -> CreateOptions:
    return CreateOptions(
        pid_file=os.path.abspath(args.pid_file) if args.pid_file else None,
        console_socket=args.console_socket,
        preserve_fds=args.preserve_fds, no_pivot=args.no_pivot,
        no_new_keyring=args.no_new_keyring,
    )


def cmd_create(args: Args) -> int:
    _runtime(args).create(args.id, args.bundle, _create_options(args))
    return 0


def cmd_start(args: Args) -> int:
    _runtime(args).start(args.id)
    return 0


def cmd_run(args: Args) -> int:
    from hull.linux import process as proc
    from hull.runtime.waiting import wait_forwarding
    rt = _runtime(args)
    if not args.detach:
        # the container's PID 1 is reparented to us when the init's first stage exits,
        # so we can wait for it like a child
        proc.prctl(proc.PR_SET_CHILD_SUBREAPER, 1)
    st = rt.create(args.id, args.bundle, _create_options(args))
    try:
        rt.start(args.id)
        mark("run: started")
    except BaseException:
        rt.delete(args.id, force=True)
        raise
    if args.detach:
        return 0
    code = wait_forwarding(st.pid)
    mark("run: exited")
    if not args.keep:
        rt.delete(args.id, force=True)
    mark("run: deleted")
    return code


def cmd_state(args: Args) -> int:
    print_json(_runtime(args).state(args.id).oci())
    return 0


def cmd_kill(args: Args) -> int:
    _runtime(args).kill(args.id, parse_signal(args.signal), all_processes=args.all)
    return 0


def cmd_delete(args: Args) -> int:
    _runtime(args).delete(args.id, force=args.force)
    return 0


def cmd_pause(args: Args) -> int:
    _runtime(args).pause(args.id)
    return 0


def cmd_resume(args: Args) -> int:
    _runtime(args).resume(args.id)
    return 0


def cmd_list(args: Args) -> int:
    states = _runtime(args).containers()
    if args.quiet:
        for st in states:
            print(st.id)
    elif args.format == "json":
        print(fastjson.dumps([st.oci() for st in states]))
    else:
        rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
        rows += [(st.id, str(st.oci()["pid"]), st.status.value, st.bundle, st.created,
                  st.owner or "root") for st in states]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for r in rows:
            print("   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return 0


def cmd_ps(args: Args) -> int:
    import subprocess
    pids = _runtime(args).pids(args.id)
    if args.format == "json":
        print(fastjson.dumps(pids))
        return 0
    ps_args = [a for a in args.ps_args if a != "--"] or ["-ef"]
    out = subprocess.run(["ps", *ps_args], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    header = lines[0].split()
    try:
        col = header.index("PID")
    except ValueError:
        raise InvalidArgument("ps: the output has no PID column") from None
    print(lines[0])
    wanted: set[int] = set(pids)
    for line in lines[1:]:
        fields = line.split(None, col + 1)
        if len(fields) > col and fields[col].isdigit() and int(fields[col]) in wanted:
            print(line)
    return 0


def cmd_exec(args: Args) -> int:
    from hull.runtime.execute import start_process
    from hull.runtime.waiting import wait_forwarding
    rt = _runtime(args)
    st = rt.state(args.id)
    if st.status is Status.PAUSED and not args.ignore_paused:
        raise FailedPrecondition(f"cannot exec in container {args.id}: it is paused")
    st.status.require(st.status.can_exec or st.status is Status.PAUSED, "exec", args.id)
    process = _exec_process(args, st.config.get("process") or {})
    pid = start_process(st, process, rt.store,
                        console_socket=args.console_socket,
                        preserve_fds=args.preserve_fds,
                        pid_file=os.path.abspath(args.pid_file) if args.pid_file else None,
                        cgroups=args.cgroup)
    if args.detach:
        return 0
    return wait_forwarding(pid)


def _exec_process(args: Args, base: dict[str, Any]) -> Any:
    from hull.runtime.spec import parse_process
    if args.process:
        try:
            with open(args.process) as f:
                raw = fastjson.loads(f.read())
        except (OSError, ValueError) as e:
            raise InvalidArgument(f"--process {args.process}: {e}") from None
        return parse_process(raw)
    cmd = [a for a in args.args if a != "--"] if args.args and args.args[0] == "--" else args.args
    if not cmd:
        raise InvalidArgument("exec: no command given (pass ARGS or --process)")
    raw = {
        "args": cmd, "env": list(base.get("env") or []) + args.env,
        "cwd": args.cwd or base.get("cwd", "/"), "terminal": args.tty,
        "user": dict(base.get("user") or {}),
        "capabilities": base.get("capabilities"),
        "noNewPrivileges": args.no_new_privs or bool(base.get("noNewPrivileges")),
        "apparmorProfile": args.apparmor or base.get("apparmorProfile", ""),
        "selinuxLabel": args.process_label or base.get("selinuxLabel", ""),
        "rlimits": base.get("rlimits"),
    }
    if args.user:
        uid, _, gid = args.user.partition(":")
        if not uid.isdigit() or (gid and not gid.isdigit()):
            raise InvalidArgument(f"--user {args.user!r}: expected UID[:GID] as numbers")
        raw["user"] = {"uid": int(uid), "gid": int(gid or 0)}
    if args.additional_gids:
        raw["user"]["additionalGids"] = [int(g) for g in args.additional_gids]
    if args.cap and raw["capabilities"] is not None:
        caps = {k: list(v) for k, v in raw["capabilities"].items()}
        for cap in args.cap:
            for kind in ("bounding", "effective", "permitted", "inheritable", "ambient"):
                if cap not in caps.setdefault(kind, []):
                    caps[kind].append(cap)
        raw["capabilities"] = caps
    return parse_process(raw)


def parse_size(value: str) -> int:
    """'1024', '64m', '1.5g' -> bytes (runc's RAMInBytes); '-1' means unlimited."""
    text = value.strip().lower()
    if text == "-1":
        return -1
    units = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    num = text.rstrip("bkmgt") if text[-1:] in "bkmgt" else text
    suffix = text[len(num):].rstrip("b") or ""
    try:
        return int(float(num) * units[suffix])
    except (ValueError, KeyError):
        raise InvalidArgument(f"invalid size {value!r}") from None


def cmd_update(args: Args) -> int:
    if args.resources:
        try:
            if args.resources == "-":
                resources = fastjson.loads(sys.stdin.read())
            else:
                with open(args.resources) as f:
                    resources = fastjson.loads(f.read())
        except (OSError, ValueError) as e:
            raise InvalidArgument(f"--resources: {e}") from None
    else:
        resources = {}
        def put(section: str, key: str, value: Any) -> None:
            resources.setdefault(section, {})[key] = value
        for flag, section, key, conv in (
                ("cpu_period", "cpu", "period", int), ("cpu_quota", "cpu", "quota", int),
                ("cpu_burst", "cpu", "burst", int), ("cpu_share", "cpu", "shares", int),
                ("cpu_rt_period", "cpu", "realtimePeriod", int),
                ("cpu_rt_runtime", "cpu", "realtimeRuntime", int),
                ("cpuset_cpus", "cpu", "cpus", str), ("cpuset_mems", "cpu", "mems", str),
                ("memory", "memory", "limit", parse_size),
                ("memory_reservation", "memory", "reservation", parse_size),
                ("memory_swap", "memory", "swap", parse_size),
                ("kernel_memory", "memory", "kernel", parse_size),
                ("kernel_memory_tcp", "memory", "kernelTCP", parse_size),
                ("pids_limit", "pids", "limit", int), ("blkio_weight", "blockIO", "weight", int)):
            value = getattr(args, flag)
            if value is not None:
                try:
                    put(section, key, conv(value))
                except ValueError:
                    raise InvalidArgument(f"--{flag.replace('_', '-')}: invalid value "
                                          f"{value!r}") from None
        if args.l3_cache_schema or args.mem_bw_schema:
            raise InvalidArgument("--l3-cache-schema/--mem-bw-schema: Intel RDT is not "
                                  "supported on this host")
    _runtime(args).update(args.id, resources)
    return 0


def cmd_events(args: Args) -> int:
    rt = _runtime(args)
    interval = _duration(args.interval)
    st = rt.state(args.id)
    driver = rt.driver(st)
    if args.stats:
        print(fastjson.dumps({"type": "stats", "id": args.id, "data": driver.stats().to_runc()}))
        return 0
    ooms = driver.oom_kills()
    next_stats = time.monotonic()
    while rt.state(args.id).status is not Status.STOPPED:
        now_ooms = driver.oom_kills()
        if now_ooms > ooms:
            print(fastjson.dumps({"type": "oom", "id": args.id}), flush=True)
            ooms = now_ooms
        if time.monotonic() >= next_stats:
            print(fastjson.dumps({"type": "stats", "id": args.id,
                              "data": driver.stats().to_runc()}), flush=True)
            next_stats = time.monotonic() + interval
        time.sleep(min(interval, 0.2))
    if driver.oom_kills() > ooms:   # the kill that ended the container
        print(fastjson.dumps({"type": "oom", "id": args.id}), flush=True)
    return 0


def _duration(text: str) -> float:
    """Go-style durations as runc takes them: 5s, 500ms, 1m."""
    for suffix, scale in (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)):
        if text.endswith(suffix) and text[: -len(suffix)].replace(".", "", 1).isdigit():
            return float(text[: -len(suffix)]) * scale
    raise InvalidArgument(f"--interval: invalid duration {text!r}")


def cmd_spec(args: Args) -> int:
    import json

    from hull.runtime.defaults import default_spec
    path = os.path.join(args.bundle, "config.json")
    if os.path.exists(path):
        raise FailedPrecondition(f"{path} already exists; remove it first")
    with open(path, "w") as f:
        f.write(json.dumps(default_spec(rootless=args.rootless), indent=2) + "\n")
    return 0


def cmd_features(args: Args) -> int:
    from hull.runtime.defaults import features
    print_json(features())
    return 0


def print_json(obj: Any) -> None:
    import json  # pretty output for people; the hot paths use hull.fastjson
    sys.stdout.write(json.dumps(obj, indent=2) + "\n")
