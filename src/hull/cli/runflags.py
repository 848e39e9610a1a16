"""The flags of `run` and `create` and what they mean: the argparse definitions, and the
RunOptions and HostConfig they turn into (each value checked with its flag's name, the
client's own environment and working directory resolved here, on the client's side)."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any


def options(args: argparse.Namespace) -> Any:
    from hull.engine import hostconfig as hc
    from hull.engine.create import RunOptions
    from hull.errors import InvalidArgument
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
        from hull.runtime.signals import parse_signal
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
    from hull.engine.createspec import check_hostname, check_memory, check_mount_points
    memory = hc.size(args.memory, "-m/--memory")
    swap = -1 if args.memory_swap == "-1" else hc.size(args.memory_swap, "--memory-swap")
    reservation = hc.size(args.memory_reservation, "--memory-reservation")
    check_memory(memory, swap, reservation)   # the engine's rules, as the API's create
    ipc = hc.namespace_mode(args.ipc, "--ipc", ("private", "shareable", "host", "none",
                                                "container"))
    pid = hc.namespace_mode(args.pid, "--pid", ("host", "container"))
    uts = hc.namespace_mode(args.uts, "--uts", ("host",))
    check_hostname(args.hostname, uts)
    if args.oom_kill_disable and not memory:
        print("WARNING: Disabling the OOM killer on containers without setting a '-m/--memory' "
              "limit may be dangerous.", file=sys.stderr)
    sysctls = dict(hc.sysctl(s, args.network, ipc, uts) for s in args.sysctl or [])
    args.volume = [_absolute_bind(v) for v in args.volume or []]
    mounts = [hc.volume(v) for v in args.volume] + [hc.mount(m) for m in args.mount or []]
    check_mount_points([m["Destination"] for m in mounts] +
                       [hc.tmpfs(t)[0] for t in args.tmpfs or []])
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
    out.update(_network_config(args))
    from hull.engine.logfile import parse_opts
    out["LogConfig"] = parse_opts(args.log_driver, args.log_opt or [])
    if args.restart:
        out["RestartPolicy"] = restart_policy(args.restart)
    if args.platform:
        out["Platform"] = args.platform
    out["ProcView"] = _proc_view(args.proc_view)
    if out["ProcView"] == "container":   # decided here, where the user was warned: the
        from hull.procfs.support import user_notification  # start runs in the service
        out["ProcViewSysinfo"] = user_notification()
    from hull.engine import userns
    idmap = userns.choose(args.userns)
    if args.userns == "host":
        out["UsernsMode"] = "host"
    if idmap is not None:
        userns.check_compatible(out, args.network)
        out["IdMappings"] = idmap.to_dict()
    return out


def _network_config(args: argparse.Namespace) -> dict[str, Any]:
    """-p, -P, --expose, --dns*, --add-host, --ip, --mac-address… checked here; the
    engine checks the network itself (it must exist) at create."""
    import ipaddress

    from hull.errors import InvalidArgument
    from hull.network import ports
    mode = args.network
    bindings = [b for spec in args.publish or [] for b in ports.parse(spec)]
    exposed = [key for spec in args.expose or [] for key in ports.parse_expose(spec)]
    for value, what in ((args.ip, "IPv4"), (args.ip6, "IPv6")):
        if value:
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise InvalidArgument(f"invalid {what} address: {value}") from None
    mac = args.mac_address or ""
    if mac and not (len(mac.split(":")) == 6 and all(
            len(b) == 2 and all(ch in "0123456789abcdefABCDEF" for ch in b)
            for b in mac.split(":"))):
        raise InvalidArgument(f"{mac} is not a valid mac address")
    for server in args.dns or []:
        try:
            ipaddress.ip_address(server)
        except ValueError:
            raise InvalidArgument(f"{server} is not an ip address") from None
    for item in args.add_host or []:
        sep = "=" if "=" in item else ":"
        name, _, ip = item.partition(sep)
        if not name or not ip:
            raise InvalidArgument(f"bad format for add-host: {item!r}")
    if mode in ("host", "none") or mode.startswith("container:"):
        if (bindings or args.publish_all) and mode == "host":
            print("WARNING: Published ports are discarded when using host network mode",
                  file=sys.stderr)
            bindings = []
        if mode.startswith("container:") and (args.dns or args.add_host or args.publish):
            raise InvalidArgument("conflicting options: dns and the network mode" if
                                  args.dns else "conflicting options: custom host-to-IP "
                                  "mapping and the network mode" if args.add_host else
                                  "conflicting options: port publishing and the container "
                                  "type network mode")
    return {"NetworkMode": mode, "PortBindings": ports.to_host_config(bindings),
            "PublishAllPorts": bool(args.publish_all), "Dns": args.dns or [],
            "DnsSearch": args.dns_search or [], "DnsOptions": args.dns_option or [],
            "ExtraHosts": args.add_host or None,
            "hull.Endpoint": {"Aliases": args.network_alias or [], "IPv4Address": args.ip or "",
                              "IPv6Address": args.ip6 or "",
                              "MacAddress": args.mac_address or ""},
            "hull.ExposedPorts": exposed + [b.key for b in bindings]}


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


def restart_policy(text: str) -> dict[str, Any]:
    from hull.errors import InvalidArgument
    name, _, count = text.partition(":")
    if name not in ("no", "always", "on-failure", "unless-stopped") or \
            (count and (name != "on-failure" or not count.isdigit())):
        raise InvalidArgument(f"invalid restart policy {text!r}: expected no, always, "
                              "unless-stopped or on-failure[:N]")
    return {"Name": name, "MaximumRetryCount": int(count or 0)}


def run_flags(run: argparse.ArgumentParser, creating: bool = False) -> None:
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
    run.add_argument("--network", "--net", default="bridge",
                     help='Connect a container to a network: "bridge" (default), "none", '
                     '"host", "container:NAME" or a user-defined network\'s name')
    run.add_argument("-P", "--publish-all", action="store_true",
                     help="Publish all exposed ports to random ports")
    for names, about in ((("--network-alias",), "Add network-scoped alias for the container"),
                         (("--expose",), "Expose a port or a range of ports"),
                         (("--dns",), "Set custom DNS servers"),
                         (("--dns-search",), "Set custom DNS search domains"),
                         (("--dns-option",), "Set DNS options"),
                         (("--add-host",), "Add a custom host-to-IP mapping (host:ip)")):
        run.add_argument(*names, action="append", help=about)
    run.add_argument("--ip", help="IPv4 address (e.g., 172.30.100.104)")
    run.add_argument("--ip6", help="IPv6 address (e.g., 2001:db8::33)")
    run.add_argument("--mac-address", help="Container MAC address (e.g., 92:d0:c6:0a:29:33)")
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
            (("-p", "--publish"), "Publish a container's port(s) to the host"),
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
