"""Container commands: run, ps, logs, inspect, stop, kill, wait, rm."""

from __future__ import annotations

import contextlib
import os
import sys

from hull.engine import humanize

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator
    from typing import Any

    from hull.errors import HullError


def _service(args: argparse.Namespace) -> Any:
    from hull.engine.containers import ContainerService
    return ContainerService(args.root)


def _options(args: argparse.Namespace) -> Any:
    from hull.engine import hostconfig as hc
    from hull.engine.containers import RunOptions
    from hull.errors import InvalidArgument
    if args.publish:
        raise InvalidArgument("-p/--publish: port publishing needs networking, which hull "
                              "does not have yet (use --network host)")
    nano = None
    if args.cpus is not None:
        nano = hc.nano_cpus(args.cpus)
        if args.cpu_period or args.cpu_quota:
            raise InvalidArgument("Conflicting options: --cpus and --cpu-period/--cpu-quota "
                                  "cannot both be set")
    if args.rm and args.restart not in (None, "no"):
        raise InvalidArgument("conflicting options: cannot specify both --restart and --rm")
    env = []
    for path in args.env_file or []:
        try:
            with open(path) as f:
                env += [line.rstrip("\n") for line in f
                        if line.strip() and not line.lstrip().startswith("#")]
        except OSError as e:
            raise InvalidArgument(f"--env-file {path}: {e.strerror}") from None
    labels = {}
    for item in args.label or []:
        key, _, value = item.partition("=")
        labels[key] = value
    if args.stop_signal:
        from hull.runtime.cli import parse_signal
        parse_signal(args.stop_signal)   # refuse a bad one now, not at stop time
    return RunOptions(image=args.image, command=args.command, name=args.name,
                      env=client_env(env + (args.env or [])), labels=labels,
                      stop_signal=args.stop_signal,
                      stop_timeout=args.stop_timeout, workdir=args.workdir, user=args.user,
                      hostname=args.hostname, domainname=args.domainname or "",
                      entrypoint=args.entrypoint, memory=hc.size(args.memory, "-m/--memory"),
                      nano_cpus=nano, pids_limit=args.pids_limit, cpuset_cpus=args.cpuset_cpus,
                      network=args.network, read_only=args.read_only, auto_remove=args.rm,
                      interactive=args.interactive, tty=args.tty, host=_host_config(args),
                      health_flags=_health_flags(args),
                      cgroup_parent=args.cgroup_parent or
                      os.environ.get("HULL_CGROUP_PARENT", "/hull"))


def client_env(items: list[str]) -> list[str]:
    """-e NAME without a value takes NAME's value from this (the client's) environment,
    as the docker command does; left bare when unset, so the engine drops it."""
    return [item if "=" in item or item not in os.environ else f"{item}={os.environ[item]}"
            for item in items]


def _health_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The --health-* flags given (engine/health.py lays them over the image's check)."""
    flags = {"cmd": args.health_cmd, "interval": args.health_interval,
             "timeout": args.health_timeout, "start_period": args.health_start_period,
             "retries": args.health_retries, "disable": args.no_healthcheck}
    if not any(v not in (None, False) for v in flags.values()):
        return {}
    return flags


def _host_config(args: argparse.Namespace) -> dict[str, Any]:
    """The HostConfig fields beyond the basic ones, each checked with its flag's name."""
    from hull.engine import hostconfig as hc
    from hull.errors import InvalidArgument
    memory = hc.size(args.memory, "-m/--memory")
    if memory is not None and 0 < memory < 6 << 20:
        raise InvalidArgument("-m/--memory: minimum memory limit allowed is 6MB")
    swap = -1 if args.memory_swap == "-1" else hc.size(args.memory_swap, "--memory-swap")
    if swap is not None and swap != -1:
        if not memory:
            raise InvalidArgument("--memory-swap: you should always set the memory limit (-m) "
                                  "when using --memory-swap")
        if swap < memory:
            raise InvalidArgument("--memory-swap: minimum memoryswap limit should be larger "
                                  "than memory limit, see usage")
    reservation = hc.size(args.memory_reservation, "--memory-reservation")
    if reservation and memory and reservation > memory:
        raise InvalidArgument("--memory-reservation: must be smaller than the memory limit")
    ipc = hc.namespace_mode(args.ipc, "--ipc", ("private", "shareable", "host", "none",
                                                "container"))
    pid = hc.namespace_mode(args.pid, "--pid", ("host", "container"))
    uts = hc.namespace_mode(args.uts, "--uts", ("host",))
    if uts == "host" and args.hostname:
        raise InvalidArgument("Conflicting options: --hostname and --uts=host")
    if args.oom_kill_disable and not memory:
        print("WARNING: Disabling the OOM killer on containers without setting a '-m/--memory' "
              "limit may be dangerous.", file=sys.stderr)
    sysctls = dict(hc.sysctl(s, args.network, ipc, uts) for s in args.sysctl or [])
    args.volume = [_absolute_bind(v) for v in args.volume or []]
    mounts = [hc.volume(v) for v in args.volume] + [hc.mount(m) for m in args.mount or []]
    dests = [m["Destination"] for m in mounts] + [hc.tmpfs(t)[0] for t in args.tmpfs or []]
    dupe = next((d for i, d in enumerate(dests) if d in dests[:i]), None)
    if dupe:
        raise InvalidArgument(f"Duplicate mount point: {dupe}")
    out: dict[str, Any] = {
        "Binds": args.volume or [], "MountPoints": mounts,
        "Tmpfs": dict(hc.tmpfs(t) for t in args.tmpfs or []),
        "Devices": [hc.device(d) for d in args.device or []],
        "Ulimits": [hc.ulimit(u) for u in args.ulimit or []],
        "Sysctls": sysctls,
        "CapAdd": hc.capabilities(args.cap_add, "--cap-add"),
        "CapDrop": hc.capabilities(args.cap_drop, "--cap-drop"),
        "SecurityOpt": hc.security_opts(args.security_opt),
        "Privileged": args.privileged, "Init": args.init,
        "GroupAdd": args.group_add or [],
        "OomScoreAdj": hc.integer(args.oom_score_adj, "--oom-score-adj", -1000, 1000) or 0,
        "IpcMode": ipc or "private", "PidMode": pid, "UTSMode": uts,
        "MemorySwap": swap or 0, "MemoryReservation": reservation or 0,
        "MemorySwappiness": hc.integer(args.memory_swappiness, "--memory-swappiness", -1,
                                       100),
        "OomKillDisable": args.oom_kill_disable,
        "CpuPeriod": hc.integer(args.cpu_period, "--cpu-period", 1000, 1000000) or 0,
        "CpuQuota": hc.integer(args.cpu_quota, "--cpu-quota", -1) or 0,
        "CpuShares": hc.integer(args.cpu_shares, "--cpu-shares", 0) or 0,
        "CpusetMems": args.cpuset_mems or "",
        "BlkioWeight": hc.integer(args.blkio_weight, "--blkio-weight", 10, 1000) or 0,
        "BlkioWeightDevice": [hc.weight_device(d) for d in args.blkio_weight_device or []],
        "BlkioDeviceReadBps": [hc.throttle(d, "--device-read-bps", False)
                               for d in args.device_read_bps or []],
        "BlkioDeviceWriteBps": [hc.throttle(d, "--device-write-bps", False)
                                for d in args.device_write_bps or []],
        "BlkioDeviceReadIOps": [hc.throttle(d, "--device-read-iops", True)
                                for d in args.device_read_iops or []],
        "BlkioDeviceWriteIOps": [hc.throttle(d, "--device-write-iops", True)
                                 for d in args.device_write_iops or []],
        "ShmSize": hc.size(args.shm_size, "--shm-size") or 67108864,
    }
    if args.volumes_from:
        out["VolumesFrom"] = args.volumes_from
    if args.storage_opt:
        from hull.engine import rwlimit
        out["StorageOpt"] = rwlimit.parse(args.storage_opt)
    from hull.engine.logfile import parse_opts
    out["LogConfig"] = parse_opts(args.log_driver, args.log_opt or [])
    if args.restart:
        out["RestartPolicy"] = _restart_policy(args.restart)
    if args.platform:
        out["Platform"] = args.platform
    out["ProcView"] = _proc_view(args.proc_view)
    from hull.engine import userns
    idmap = userns.choose(args.userns)
    if args.userns == "host":
        out["UsernsMode"] = "host"
    if idmap is not None:
        userns.check_compatible(out, args.network)
        out["IdMappings"] = idmap.to_dict()
    return out


def _absolute_bind(spec: str) -> str:
    """-v ./dir:/x: a host path starting with "." is this directory's (the client's), as
    the docker command resolves it; other relative names are volume names."""
    source, sep, rest = spec.partition(":")
    if sep and source.startswith("."):
        return os.path.abspath(source) + sep + rest
    return spec


def _proc_view(flag: str | None) -> str:
    """--proc-view container|host (default: HULL_PROC_VIEW or "proc-view" in the engine
    config, else container). A host that cannot serve the view gets one warning."""
    from hull.engine.settings import setting
    from hull.errors import InvalidArgument
    from hull.procfs.support import MODES, fuse_missing, user_notification
    mode = flag or setting("proc-view", "HULL_PROC_VIEW") or "container"
    if mode not in MODES:
        raise InvalidArgument(f"invalid --proc-view {mode!r}: use container or host")
    if mode == "container":
        why = fuse_missing()
        if why:
            print(f"WARNING: {why}: the container sees the host's /proc (meminfo, cpuinfo, "
                  "…)", file=sys.stderr)
            return "host"
        if not user_notification():
            print("WARNING: no seccomp user notification in this kernel: free and other "
                  "sysinfo(2) callers see the host's memory", file=sys.stderr)
    return mode


def _restart_policy(text: str) -> dict[str, Any]:
    from hull.errors import InvalidArgument
    name, _, count = text.partition(":")
    if name not in ("no", "always", "on-failure", "unless-stopped") or \
            (count and (name != "on-failure" or not count.isdigit())):
        raise InvalidArgument(f"invalid restart policy {text!r}: expected no, always, "
                              "unless-stopped or on-failure[:N]")
    return {"Name": name, "MaximumRetryCount": int(count or 0)}


def _ensure_image(args: argparse.Namespace, name: str) -> None:
    from hull.engine.images import ImageService
    from hull.errors import HullError, NotFound
    images = ImageService(args.root)
    try:
        if args.pull == "always":
            images.pull(name, platform=args.platform)
            return
        try:
            image = images.store.resolve(name)
            if _platform_matches(images.store.config(image), args.platform):
                return
            if args.pull == "never":
                raise HullError(f"image with reference {name} was found but does not match "
                                f"the specified platform: wanted {args.platform}")
        except NotFound:
            if args.pull == "never":
                raise
        from hull.image.reference import parse
        print(f"Unable to find image '{parse(name).familiar()}' locally", file=sys.stderr)
        from hull.image.progress import Progress
        try:
            images.pull(name, platform=args.platform,
                        progress=Progress(lambda line: print(line, file=sys.stderr)))
        except NotFound as e:
            raise HullError(str(e)) from None   # docker run exits 125 here, not 1
    finally:
        images.store.close()   # no database connection may be open when the monitor forks


def _platform_matches(config: dict[str, Any], platform: str | None) -> bool:
    if not platform:
        return True
    os_name, _, arch = platform.partition("/")
    arch, _, variant = arch.partition("/")
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(arch, arch)
    return (config.get("os", "linux") == os_name and (not arch or config.get("architecture")
                                                       == arch)
            and (not variant or config.get("variant", variant) == variant))


@contextlib.contextmanager
def _attached_streams(streams: list[str] | None) -> Iterator[None]:
    """run -a stdout|stderr: the monitor forwards only the streams named (it takes this
    process's stdout and stderr as it forks); the rest go to /dev/null."""
    if not streams:
        yield
        return
    saved = []
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd, name in ((1, "stdout"), (2, "stderr")):
            if name not in streams:
                saved.append((fd, os.dup(fd)))
                os.dup2(devnull, fd)
        yield
    finally:
        for fd, copy in saved:
            os.dup2(copy, fd)
            os.close(copy)
        os.close(devnull)


def check_tty(attach_stdin: bool, tty: bool) -> None:
    """A terminal in the container needs one here when stdin is attached: piped input
    and a tty do not mix (Docker refuses it the same way, before creating anything)."""
    if tty and attach_stdin and not sys.stdin.isatty():
        from hull.errors import ClientError
        raise ClientError("the input device is not a TTY")


class _Refused(Exception):
    """run/create refused: how Docker reports it — the CLI's own checks as "docker: …",
    the daemon's answers as "Error response from daemon: …" (create exits 1 with them, run
    125 under the command's name), both with a pointer to --help."""

    def __init__(self, error: HullError, daemon: bool) -> None:
        super().__init__(str(error))
        self.error, self.daemon = error, daemon


@contextlib.contextmanager
def _refusals(daemon: bool) -> Iterator[None]:
    from hull.errors import ClientError, FlagError, HullError
    try:
        yield
    except (ClientError, FlagError):
        raise
    except HullError as e:
        raise _Refused(e, daemon) from None


def _report(args: argparse.Namespace, refused: _Refused, command: str) -> int:
    e = refused.error
    if refused.daemon and command == "create":
        print(f"Error response from daemon: {e}", file=sys.stderr)
        return 1
    text = f"Error response from daemon: {e}" if refused.daemon else str(e)
    print(f"hull: {text}\n\nRun 'hull {command} --help' for more information", file=sys.stderr)
    return e.exit_code if e.exit_code in (126, 127) else 125


def cmd_run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except _Refused as refused:
        if args.debug:
            raise refused.error from None
        return _report(args, refused, "run")


def _run(args: argparse.Namespace) -> int:
    import os
    import signal

    from hull.engine import monitor
    from hull.trace import mark
    check_tty(args.interactive and not args.detach, args.tty)
    with _refusals(daemon=False):
        if args.attach:
            from hull.errors import InvalidArgument
            if args.detach:
                raise InvalidArgument("Conflicting options: -a and -d")
            for stream in args.attach:
                if stream.lower() not in ("stdin", "stdout", "stderr"):
                    raise InvalidArgument(f"invalid argument \"{stream}\" for \"-a, "
                                          "--attach\" flag: valid streams are STDIN, STDOUT "
                                          "and STDERR")
            args.attach = [s.lower() for s in args.attach]
        service = _service(args)
        opts = _options(args)
        if args.cidfile and os.path.exists(args.cidfile):
            from hull.errors import InvalidArgument
            raise InvalidArgument(f"container ID file found, make sure the other container "
                                  f"isn't running or delete {args.cidfile}")
    with _refusals(daemon=True):
        _ensure_image(args, args.image)
        mark("run: image ready")
        container = service.create(opts)
    mark("run: container created (rootfs snapshots, record)")
    if args.cidfile:
        with open(args.cidfile, "w") as f:
            f.write(container.id)
    sys.stdout.flush()
    with _attached_streams(args.attach):
        notify = monitor.spawn(service, container.id, attach=not args.detach,
                               stdin=args.interactive and not args.detach)
    service = _service(args)   # spawn closed the databases before forking
    first = monitor.read_message(notify)
    mark("run: monitor reports the container started")
    if "error" in first:
        if args.detach:
            print(container.id)   # Docker prints it too: the container exists, "Created"
        from hull.errors import HullError
        failed = HullError(str(first["error"]))
        failed.exit_code = int(first.get("code", 125))
        raise _Refused(failed, daemon=True)
    if args.detach:
        print(container.id)
        return 0
    if args.tty:
        from hull.engine.attach import client
        if client(service.store.dir(container.id), forward_stdin=args.interactive,
                  detach_keys=_detach_keys(args)):
            return 0   # detached: the container runs on under its monitor
        done = monitor.read_message(notify)
        os.close(notify)
        return int(done.get("exit", 0))

    def forward(sig: int, _frame: object) -> None:
        try:
            service.runtime().kill(container.id, sig)
        except Exception:
            pass
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, forward)
    while True:
        try:
            done = monitor.read_message(notify)
            break
        except InterruptedError:
            continue
    os.close(notify)
    mark("run: monitor reports the exit (recorded, cleaned up)")
    if "exit" in done:
        return int(done["exit"])
    code: int = service.wait(container.id)
    return code


def cmd_logs(args: argparse.Namespace) -> int:
    service = _service(args)
    if args.follow:
        entries: Any = service.follow_logs(args.container)
    else:
        entries = service.logs(args.container)
        since = _when(args.since) if args.since else None
        until = _when(args.until) if args.until else None
        entries = [e for e in entries if (since is None or humanize.parse_time(e["time"])
                                          >= since) and (until is None or
                                                         humanize.parse_time(e["time"]) < until)]
        if args.tail is not None and args.tail != "all":
            entries = entries[-int(args.tail):] if int(args.tail) else []
    for e in entries:
        out = sys.stdout if e["stream"] == "stdout" else sys.stderr
        out.write((e["time"] + " " if args.timestamps else "") + e["log"])
        out.flush()
    return 0


def _when(text: str) -> float:
    """--since/--until: an RFC 3339 time or date, a Unix time, or a duration ago (10s,
    1h30m); anything else refused as the docker command refuses it (exit 1)."""
    from hull.engine.filters import timestamp
    from hull.errors import ClientError, InvalidArgument
    try:
        return timestamp(text)
    except InvalidArgument as e:
        raise ClientError(str(e)) from None


def _each(args: argparse.Namespace, action: Any, missing_ok: bool = False) -> int:
    """The action on each named container, as Docker does: the name printed on success, a
    failure printed and the rest still done, exit 1 if any failed (missing_ok: a missing
    container is reported but is no failure — `rm -f`)."""
    from hull.errors import HullError, NotFound
    code = 0
    for name in args.containers:
        try:
            action(name)
            print(name)
        except HullError as e:
            print(f"Error response from daemon: {e}", file=sys.stderr)
            if not (missing_ok and isinstance(e, NotFound)):
                code = 1
    return code


def cmd_stop(args: argparse.Namespace) -> int:
    service = _service(args)
    return _each(args, lambda n: service.stop(n, args.time))


def cmd_kill(args: argparse.Namespace) -> int:
    from hull.errors import InvalidArgument
    from hull.runtime.cli import parse_signal
    service = _service(args)
    try:
        sig = parse_signal(args.signal)
    except InvalidArgument:   # the daemon's answer in Docker, so exit 1
        print(f"Error response from daemon: Invalid signal: {args.signal}", file=sys.stderr)
        return 1

    def kill(name: str) -> None:
        from hull.errors import HullError
        try:
            service.kill(name, sig)
        except HullError as e:
            e.args = (f"Cannot kill container: {name}: {e}",)   # Docker's wording
            raise
    return _each(args, kill)


def cmd_rm(args: argparse.Namespace) -> int:
    service = _service(args)
    return _each(args, lambda n: service.remove(n, force=args.force, volumes=args.volumes),
                 missing_ok=args.force)


def cmd_export(args: argparse.Namespace) -> int:
    from hull.errors import ClientError
    if not args.output and sys.stdout.isatty():
        raise ClientError("cowardly refusing to save to a terminal. Use the -o flag or "
                              "redirect")
    service = _service(args)
    if args.output:
        with open(args.output, "wb") as out:
            service.export(args.container, out)
    else:
        service.export(args.container, sys.stdout.buffer)
    return 0


def cmd_exec(args: argparse.Namespace) -> int:
    from hull.errors import InvalidArgument
    if args.tty and args.detach:
        raise InvalidArgument("-t with -d: a detached exec has no terminal to attach")
    check_tty(args.interactive and not args.detach, args.tty)
    if not args.command:
        from hull.errors import UsageError
        raise UsageError("exec: no command given")
    code: int = _service(args).exec(args.container, args.command, client_env(args.env or []),
                                    args.user,
                                    args.workdir, args.detach, tty=args.tty,
                                    interactive=args.interactive,
                                    privileged=args.privileged)
    return code


def cmd_pause(args: argparse.Namespace) -> int:
    service = _service(args)
    return _each(args, lambda n: service.pause(n, True))


def cmd_unpause(args: argparse.Namespace) -> int:
    service = _service(args)
    return _each(args, lambda n: service.pause(n, False))


def cmd_restart(args: argparse.Namespace) -> int:
    service = _service(args)
    return _each(args, lambda n: service.restart(n, args.time))


def cmd_rename(args: argparse.Namespace) -> int:
    from hull.errors import FailedPrecondition
    try:
        _service(args).rename(args.container, args.new_name)
    except FailedPrecondition as e:
        print(f"Error response from daemon: {e}", file=sys.stderr)
        print(f"Error: failed to rename container named {args.container}", file=sys.stderr)
        return 1
    return 0


def cmd_create(args: argparse.Namespace) -> int:
    try:
        with _refusals(daemon=False):
            opts = _options(args)   # bad flags are refused before any pull
        with _refusals(daemon=True):
            _ensure_image(args, args.image)
            print(_service(args).create(opts).id)
    except _Refused as refused:
        if args.debug:
            raise refused.error from None
        return _report(args, refused, "create")
    return 0


def _detach_keys(args: argparse.Namespace) -> str:
    from hull.engine.attach import DEFAULT_DETACH_KEYS, parse_detach_keys
    keys: str = getattr(args, "detach_keys", None) or os.environ.get(
        "HULL_DETACH_KEYS", DEFAULT_DETACH_KEYS)
    parse_detach_keys(keys)   # a bad value is refused before anything starts
    return keys


def cmd_commit(args: argparse.Namespace) -> int:
    service = _service(args)
    image_id = service.commit(args.container, args.repository, message=args.message,
                              author=args.author, changes=args.change,
                              pause=args.pause != "false")
    print(image_id)
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    for kind, path in _service(args).diff(args.container):
        print(f"{kind} {path}")
    return 0


def cmd_attach(args: argparse.Namespace) -> int:
    """Attach this terminal (or stdio) to a running container; Ctrl-P Ctrl-Q detaches."""
    from hull.engine.attach import client
    service = _service(args)
    keys = _detach_keys(args)
    c = service.refresh(service.store.get(args.container))
    if not c.state.get("Running"):
        from hull.errors import ClientError
        raise ClientError("You cannot attach to a stopped container, start it first")
    tty = bool(c.config.get("Tty"))
    check_tty(not args.no_stdin, tty)
    stdin = not args.no_stdin and bool(c.config.get("OpenStdin"))
    if client(service.store.dir(c.id), forward_stdin=stdin, tty=tty, detach_keys=keys):
        print("read escape sequence", file=sys.stderr)
        return 0
    code: int = service.wait(c.id)
    return code


def cmd_start(args: argparse.Namespace) -> int:
    from hull.engine import monitor
    from hull.errors import HullError
    code = 0
    for name in args.containers:
        service = _service(args)
        try:
            c = service.refresh(service.store.get(name))
            if c.state.get("Running"):
                print(name)
                continue
            tty = bool(c.config.get("Tty"))
            notify = monitor.spawn(service, c.id, attach=args.attach and not tty, stdin=False)
            service = _service(args)
            first = monitor.read_message(notify)
            if "error" in first:
                raise HullError(str(first["error"]))
            if args.attach:
                if tty:
                    from hull.engine.attach import client
                    if client(service.store.dir(c.id), forward_stdin=args.interactive,
                              detach_keys=_detach_keys(args)):
                        continue
                done = monitor.read_message(notify)
                code = int(done.get("exit", 0))
            else:
                print(name)
        except HullError as e:
            print(f"Error response from daemon: {e}", file=sys.stderr)
            code = 1
    return code


def cmd_prune(args: argparse.Namespace) -> int:
    from hull.cli.images import confirm
    from hull.engine.filters import Filters
    filters = Filters(args.filter, ("label", "label!", "until"))
    if not args.force and not confirm("WARNING! This will remove all stopped containers."):
        return 0
    removed, space = _service(args).prune(filters)
    if removed:
        print("Deleted Containers:\n" + "\n".join(removed) + "\n")
    print(f"Total reclaimed space: {humanize.size(space, 4)}")
    return 0


def cmd_port(args: argparse.Namespace) -> int:
    """`port CONTAINER [PRIVATE_PORT[/PROTO]]`: a container's published ports — none until
    networking lands, so the list is empty and asking for one port is Docker's error."""
    from hull.errors import ClientError
    c = _service(args).store.get(args.container)
    if args.port:
        port = args.port if "/" in args.port else f"{args.port}/tcp"
        raise ClientError(f"Error: No public port '{port}' published for {c.name}")
    return 0


def cmd_wait(args: argparse.Namespace) -> int:
    service = _service(args)
    for name in args.containers:
        print(service.wait(name))
    return 0


def _run_flags(run: argparse.ArgumentParser, creating: bool = False) -> None:
    run.add_argument("--help", action="help", help="Print usage")
    run.add_argument("-d", "--detach", action="store_true",
                     help="Run container in background and print container ID")
    run.add_argument("-a", "--attach", action="append",
                     help="Attach to STDIN, STDOUT or STDERR")
    run.add_argument("-i", "--interactive", action="store_true",
                     help="Keep STDIN open even if not attached")
    run.add_argument("-t", "--tty", action="store_true", help="Allocate a pseudo-TTY")
    run.add_argument("--rm", action="store_true", help="Automatically remove the container "
                     "and its associated anonymous volumes when it exits")
    run.add_argument("--name", help="Assign a name to the container")
    run.add_argument("-e", "--env", action="append", help="Set environment variables")
    run.add_argument("-w", "--workdir", help="Working directory inside the container")
    run.add_argument("-u", "--user",
                     help="Username or UID (format: <name|uid>[:<group|gid>])")
    run.add_argument("-h", "--hostname", help="Container host name")
    run.add_argument("--entrypoint", help="Overwrite the default ENTRYPOINT of the image")
    run.add_argument("-m", "--memory", help="Memory limit")
    run.add_argument("--cpus", help="Number of CPUs")
    run.add_argument("--pids-limit", type=int,
                     help="Tune container pids limit (set -1 for unlimited)")
    run.add_argument("--cpuset-cpus", help="CPUs in which to allow execution (0-3, 0,1)")
    run.add_argument("--network", "--net", default="none",
                     help='Connect a container to a network ("none" or "host") '
                     '(default "none")')
    run.add_argument("--read-only", action="store_true",
                     help="Mount the container's root filesystem as read only")
    run.add_argument("--cgroup-parent", help="Optional parent cgroup for the container "
                     '(default "/hull", or HULL_CGROUP_PARENT)')
    run.add_argument("--env-file", action="append",
                     help="Read in a file of environment variables")
    run.add_argument("-l", "--label", action="append", help="Set meta data on a container")
    run.add_argument("--cidfile", help="Write the container ID to the file")
    run.add_argument("--stop-signal", help="Signal to stop the container")
    run.add_argument("--stop-timeout", type=int,
                     help="Timeout (in seconds) to stop a container")
    run.add_argument("--restart", help="Restart policy to apply when a container exits "
                     '(default "no")')
    run.add_argument("--pull", choices=["always", "missing", "never"], default="missing",
                     help=f"Pull image before {'creating' if creating else 'running'} "
                     '("always", "missing", "never") (default "missing")')
    run.add_argument("--platform", help="Set platform if server is multi-platform capable")
    run.add_argument("--detach-keys",
                     help="Override the key sequence for detaching a container")
    run.add_argument("--domainname", help="Container NIS domain name")
    run.add_argument("--init", action="store_true", help="Run an init inside the container "
                     "that forwards signals and reaps processes")
    run.add_argument("--log-driver",
                     help='Logging driver for the container ("json-file" or "none")')
    run.add_argument("--health-cmd", help="Command to run to check health")
    run.add_argument("--health-interval", help="Time between running the check (ms|s|m|h)")
    run.add_argument("--health-timeout",
                     help="Maximum time to allow one check to run (ms|s|m|h)")
    run.add_argument("--health-start-period", help="Start period for the container to "
                     "initialize before starting health-retries countdown (ms|s|m|h)")
    run.add_argument("--health-retries", type=int,
                     help="Consecutive failures needed to report unhealthy")
    run.add_argument("--no-healthcheck", action="store_true",
                     help="Disable any container-specified HEALTHCHECK")
    run.add_argument("--privileged", action="store_true",
                     help="Give extended privileges to this container")
    run.add_argument("--oom-kill-disable", action="store_true", help="Disable OOM Killer")
    for flag, text in (
            (("-v", "--volume"), "Bind mount a volume"),
            (("--mount",), "Attach a filesystem mount to the container"),
            (("--tmpfs",), "Mount a tmpfs directory"),
            (("--device",), "Add a host device to the container"),
            (("--ulimit",), "Ulimit options"),
            (("--sysctl",), "Sysctl options"),
            (("--cap-add",), "Add Linux capabilities"),
            (("--cap-drop",), "Drop Linux capabilities"),
            (("--security-opt",), "Security Options"),
            (("--group-add",), "Add additional groups to join"),
            (("--device-read-bps",), "Limit read rate (bytes per second) from a device"),
            (("--device-write-bps",), "Limit write rate (bytes per second) to a device"),
            (("--device-read-iops",), "Limit read rate (IO per second) from a device"),
            (("--device-write-iops",), "Limit write rate (IO per second) to a device"),
            (("--blkio-weight-device",), "Block IO weight (relative device weight)"),
            (("-p", "--publish"), "Publish a container's port(s) to the host (refused: "
             "hull has no container networking yet; use --network host)"),
            (("--log-opt",), "Log driver options"),
            (("--volumes-from",), "Mount volumes from the specified container(s)"),
            (("--storage-opt",), "Storage driver options for the container: size=N caps "
             "its writable layer at N bytes (at least 8MB)")):
        run.add_argument(*flag, action="append", help=text)
    run.add_argument("--proc-view", help="What the container's /proc shows: \"container\": "
                     "meminfo, cpuinfo, stat, uptime, loadavg… and sysinfo(2) show the "
                     "container's limits and usage; \"host\": the host's (default "
                     "\"container\", or HULL_PROC_VIEW)")
    run.add_argument("--userns", help="User namespace to use: \"host\": none (the exception "
                     "when remapping is the configured default); \"remap[:USER[:GROUP]]\": "
                     "container ids mapped to USER's subordinate ranges (default user: "
                     "hull-remap)")
    for name, text in (
            ("--ipc", "IPC mode to use"),
            ("--pid", "PID namespace to use"),
            ("--uts", "UTS namespace to use"),
            ("--oom-score-adj", "Tune host's OOM preferences (-1000 to 1000)"),
            ("--memory-swap", "Swap limit equal to memory plus swap: '-1' to enable "
             "unlimited swap"),
            ("--memory-reservation", "Memory soft limit"),
            ("--memory-swappiness", "Tune container memory swappiness (0 to 100)"),
            ("--cpu-period", "Limit CPU CFS (Completely Fair Scheduler) period"),
            ("--cpu-quota", "Limit CPU CFS (Completely Fair Scheduler) quota"),
            ("--cpu-shares", "CPU shares (relative weight)"),
            ("--cpuset-mems", "MEMs in which to allow execution (0-3, 0,1)"),
            ("--blkio-weight", "Block IO (relative weight), between 10 and 1000, or 0 to "
             "disable"),
            ("--shm-size", "Size of /dev/shm")):
        run.add_argument(name, help=text)
    run.add_argument("image")
    run.add_argument("command", nargs="...")


def register(sub: Any) -> None:
    """Every container command at the top level (`hull ps`) and under `hull container`
    (`hull container ls`), as docker has them."""
    _commands(sub, top=True)
    container = sub.add_parser("container", help="Manage containers")
    csub = container.add_subparsers(dest="container_command", metavar="COMMAND",
                                    parser_class=type(container))
    _commands(csub, top=False)


def _commands(sub: Any, top: bool) -> None:
    from hull.cli import copy, observe
    copy.register(sub)
    observe.register(sub)
    if top:
        observe.register_events(sub)
    run = sub.add_parser("run", help="Create and run a new container from an image",
                         add_help=False, usage="%(prog)s [OPTIONS] IMAGE [COMMAND] [ARG...]")
    _run_flags(run)
    run.set_defaults(run=cmd_run)
    create = sub.add_parser("create", help="Create a new container", add_help=False,
                            usage="%(prog)s [OPTIONS] IMAGE [COMMAND] [ARG...]")
    _run_flags(create, creating=True)
    create.set_defaults(run=cmd_create)
    start = sub.add_parser("start", help="Start one or more stopped containers")
    start.add_argument("-a", "--attach", action="store_true",
                       help="Attach STDOUT/STDERR (signals are not forwarded)")
    start.add_argument("-i", "--interactive", action="store_true",
                       help="Attach container's STDIN")
    start.add_argument("--detach-keys",
                       help="Override the key sequence for detaching a container")
    start.add_argument("containers", nargs="+")
    start.set_defaults(run=cmd_start)
    ex = sub.add_parser("exec", help="Execute a command in a running container",
                        add_help=False, usage="%(prog)s [OPTIONS] CONTAINER COMMAND [ARG...]")
    ex.min_args = 2
    ex.add_argument("--help", action="help", help="Print usage")
    ex.add_argument("-d", "--detach", action="store_true",
                    help="Detached mode: run command in the background")
    ex.add_argument("-i", "--interactive", action="store_true",
                    help="Keep STDIN open even if not attached")
    ex.add_argument("-t", "--tty", action="store_true", help="Allocate a pseudo-TTY")
    ex.add_argument("-e", "--env", action="append", help="Set environment variables")
    ex.add_argument("-u", "--user",
                    help='Username or UID (format: "<name|uid>[:<group|gid>]")')
    ex.add_argument("-w", "--workdir", help="Working directory inside the container")
    ex.add_argument("--privileged", action="store_true",
                    help="Give extended privileges to the command")
    ex.add_argument("container")
    ex.add_argument("command", nargs="...")
    ex.set_defaults(run=cmd_exec)
    for name, fn, text in (
            ("pause", cmd_pause, "Pause all processes within one or more containers"),
            ("unpause", cmd_unpause, "Unpause all processes within one or more containers")):
        p = sub.add_parser(name, help=text)
        p.add_argument("containers", nargs="+")
        p.set_defaults(run=fn)
    restart = sub.add_parser("restart", help="Restart one or more containers")
    restart.add_argument("-t", "--timeout", "--time", dest="time", type=int,
                         help="Seconds to wait before killing the container")
    restart.add_argument("containers", nargs="+")
    restart.set_defaults(run=cmd_restart)
    rename = sub.add_parser("rename", help="Rename a container")
    rename.add_argument("container")
    rename.add_argument("new_name")
    rename.set_defaults(run=cmd_rename)
    if not top:
        prune = sub.add_parser("prune", help="Remove all stopped containers")
        prune.add_argument("-f", "--force", action="store_true",
                           help="Do not prompt for confirmation")
        prune.add_argument("--filter", action="append",
                           help='Provide filter values (e.g. "until=<timestamp>")')
        prune.set_defaults(run=cmd_prune)
    from hull.cli import ps
    ps.register(sub, top)
    logs = sub.add_parser("logs", help="Fetch the logs of a container")
    logs.add_argument("-t", "--timestamps", action="store_true", help="Show timestamps")
    logs.add_argument("-n", "--tail", help="Number of lines to show from the end of the "
                      'logs (default "all")')
    logs.add_argument("-f", "--follow", action="store_true", help="Follow log output")
    logs.add_argument("--since", help='Show logs since timestamp (e.g. '
                      '"2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)')
    logs.add_argument("--until", help='Show logs before a timestamp (e.g. '
                      '"2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)')
    logs.add_argument("container")
    logs.set_defaults(run=cmd_logs)
    from hull.cli import inspect
    inspect.register(sub, None if top else "container")
    stop = sub.add_parser("stop", help="Stop one or more running containers")
    stop.add_argument("-t", "--timeout", "--time", dest="time", type=int,
                      help="Seconds to wait before killing the container")
    stop.add_argument("containers", nargs="+")
    stop.set_defaults(run=cmd_stop)
    kill = sub.add_parser("kill", help="Kill one or more running containers")
    kill.add_argument("-s", "--signal", default="KILL",
                      help="Signal to send to the container")
    kill.add_argument("containers", nargs="+")
    kill.set_defaults(run=cmd_kill)
    commit = sub.add_parser("commit", help="Create a new image from a container's changes")
    commit.add_argument("-m", "--message", default="", help="Commit message")
    commit.add_argument("-a", "--author", default="",
                        help='Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
    commit.add_argument("-c", "--change", action="append",
                        help="Apply Dockerfile instruction to the created image")
    commit.add_argument("-p", "--pause", nargs="?", const="true", default="true",
                        help="Pause container during commit (default true)")
    commit.add_argument("container")
    commit.add_argument("repository", nargs="?")
    commit.set_defaults(run=cmd_commit)
    diff = sub.add_parser("diff", help="Inspect changes to files or directories on a "
                          "container's filesystem")
    diff.add_argument("container")
    diff.set_defaults(run=cmd_diff)
    attach = sub.add_parser("attach", help="Attach local standard input, output, and error "
                            "streams to a running container")
    attach.add_argument("--detach-keys",
                        help="Override the key sequence for detaching a container")
    attach.add_argument("--no-stdin", action="store_true", help="Do not attach STDIN")
    attach.add_argument("--sig-proxy", default="true", help="Proxy all received signals to "
                        "the process (accepted and ignored: hull's attach proxies none)")
    attach.add_argument("container")
    attach.set_defaults(run=cmd_attach)
    rm = sub.add_parser("rm", aliases=[] if top else ["remove"],
                        help="Remove one or more containers")
    rm.add_argument("-f", "--force", action="store_true",
                    help="Force the removal of a running container (uses SIGKILL)")
    rm.add_argument("-v", "--volumes", action="store_true",
                    help="Remove anonymous volumes associated with the container")
    rm.add_argument("containers", nargs="+")
    rm.set_defaults(run=cmd_rm)
    export = sub.add_parser("export", help="Export a container's filesystem as a tar archive")
    export.add_argument("-o", "--output", help="Write to a file, instead of STDOUT")
    export.add_argument("container")
    export.set_defaults(run=cmd_export)
    port = sub.add_parser("port", help="List port mappings or a specific mapping for the "
                          "container")
    port.add_argument("container")
    port.add_argument("port", nargs="?", metavar="PRIVATE_PORT[/PROTO]")
    port.set_defaults(run=cmd_port)
    wait = sub.add_parser("wait", help="Block until one or more containers stop, then "
                          "print their exit codes")
    wait.add_argument("containers", nargs="+")
    wait.set_defaults(run=cmd_wait)
