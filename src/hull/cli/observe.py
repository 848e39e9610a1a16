"""Watching and adjusting containers: stats, top, events, update."""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

STATS_HEADERS = {"Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME",
                 "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %",
                 "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS"}
STATS_DEFAULT = ("table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t"
                 "{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}")
NO_STREAM_INTERVAL = 0.25   # seconds between the two samples of a one-shot table


def _service(args: argparse.Namespace) -> Any:
    from hull.engine.containers import ContainerService
    return ContainerService(args.root)


def cmd_stats(args: argparse.Namespace) -> int:
    """A table refreshed every second (--no-stream: one table, from two samples taken
    NO_STREAM_INTERVAL apart)."""
    import io
    import time

    from hull.cli.template import Struct, print_rows
    from hull.engine.observe import stats_rows
    service = _service(args)
    named = [service.store.get(n) for n in args.containers]   # a missing one fails now
    previous = None
    fmt = {"": STATS_DEFAULT, "table": STATS_DEFAULT, "json": "{{json .}}"}.get(
        args.format or "", args.format)
    while True:
        if named:
            containers = [service.store.get(c.id) for c in named]
        else:
            containers = service.containers(all_=args.all)
        rows, previous = stats_rows(service, containers, NO_STREAM_INTERVAL, previous)
        buf = io.StringIO()
        print_rows(fmt, [Struct(r, type_name="*formatter.StatsEntry", json_sorted=True)
                         for r in rows], STATS_HEADERS, buf)
        if not args.no_stream and sys.stdout.isatty():
            sys.stdout.write("\033[2J\033[H")   # redraw in place, as docker does
        sys.stdout.write(buf.getvalue())
        sys.stdout.flush()
        if args.no_stream:
            return 0
        time.sleep(1.0)


def cmd_top(args: argparse.Namespace) -> int:
    """Docker lays `top` out with a tabwriter of minimum width 20 (padding 3)."""
    from hull.cli.gotemplate.tabwriter import TabWriter
    from hull.engine.observe import top
    rows = top(_service(args), args.container, args.ps_args)
    sys.stdout.write(TabWriter(minwidth=20).format("".join("\t".join(r) + "\n"
                                                           for r in rows)))
    return 0


def _filters(values: list[str] | None) -> dict[str, list[str]]:
    from hull.errors import InvalidArgument
    out: dict[str, list[str]] = {}
    for item in values or []:
        key, eq, value = item.partition("=")
        if not eq:
            raise InvalidArgument(f"bad format of filter (expected name=value): {item}")
        out.setdefault(key, []).append(value)
    return out


def _event_context(e: dict[str, Any]) -> Any:
    """An event as Docker's events.Message struct: its Go field names (.ID .Status .From
    .Type .Action .Actor .Scope .Time .TimeNano), not its JSON ones."""
    from hull.cli.template import Struct
    actor = e.get("Actor") or {}
    return Struct({"Status": e.get("status", ""), "ID": e.get("id", ""),
                   "From": e.get("from", ""), "Type": e.get("Type", ""),
                   "Action": e.get("Action", ""),
                   "Actor": Struct({"ID": actor.get("ID", ""),
                                    "Attributes": actor.get("Attributes") or {}},
                                   type_name="events.Actor"),
                   "Scope": e.get("scope", ""), "Time": e.get("time", 0),
                   "TimeNano": e.get("timeNano", 0)}, type_name="events.Message")


def cmd_events(args: argparse.Namespace) -> int:
    """Past events from --since (up to --until), then — without --until — new ones as they
    happen, until interrupted."""
    import time

    from hull.cli.common import when as _when
    from hull.engine import events
    filters = _filters(args.filter)
    events.matches({}, {k: [] for k in filters})   # an unknown filter key fails up front
    since = _when(args.since) if args.since else None
    until = _when(args.until) if args.until else None

    def show(e: dict[str, Any]) -> None:
        if not events.matches(e, filters):
            return
        if args.format:
            from hull.cli.template import render
            if args.format in ("{{json .}}", "json"):
                import json
                actor = e.get("Actor") or {}
                # as Go marshals events.Message: compact, fields in order, map keys sorted
                e = {**e, "Actor": {"ID": actor.get("ID", ""), "Attributes": dict(
                    sorted((actor.get("Attributes") or {}).items()))}}
                print(json.dumps(e, separators=(",", ":"), ensure_ascii=False))
            else:
                print(render(args.format, _event_context(e)))
        else:
            print(events.format_line(e))
        sys.stdout.flush()
    if since is not None:
        for e in events.history(args.root):
            t = e["timeNano"] / 1e9
            if t >= since and (until is None or t < until):
                show(e)
    if until is not None and until <= time.time():
        return 0
    for e in events.follow(args.root):
        if until is not None and e["timeNano"] / 1e9 >= until:
            return 0
        show(e)
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    from hull.engine import hostconfig as hc
    from hull.engine.update import update
    from hull.errors import ClientError, FailedPrecondition, HullError, InvalidArgument
    changes: dict[str, Any] = {}
    if args.cpus is not None:
        changes["NanoCpus"] = hc.nano_cpus(args.cpus, zero_ok=True)
    for flag, key, low, high in (("cpu_period", "CpuPeriod", 1000, 1000000),
                                 ("cpu_quota", "CpuQuota", -1, None),
                                 ("cpu_shares", "CpuShares", 0, None),
                                 ("blkio_weight", "BlkioWeight", 10, 1000),
                                 ("pids_limit", "PidsLimit", -1, None)):
        value = getattr(args, flag)
        if value is not None:
            changes[key] = hc.integer(value, "--" + flag.replace("_", "-"), low, high)
    for flag, key in (("cpuset_cpus", "CpusetCpus"), ("cpuset_mems", "CpusetMems")):
        if getattr(args, flag) is not None:
            changes[key] = getattr(args, flag)
    if args.memory is not None:
        memory = hc.size(args.memory, "-m/--memory") or 0
        from hull.engine.createspec import check_memory
        check_memory(memory, None, None)
        changes["Memory"] = memory
    if args.memory_swap is not None:
        changes["MemorySwap"] = -1 if args.memory_swap == "-1" else \
            hc.size(args.memory_swap, "--memory-swap")
    if args.memory_reservation is not None:
        changes["MemoryReservation"] = hc.size(args.memory_reservation,
                                               "--memory-reservation")
    if args.restart is not None:
        from hull.cli.runflags import restart_policy
        try:
            changes["RestartPolicy"] = restart_policy(args.restart)
        except InvalidArgument:   # the daemon's refusal in Docker: exit 1
            raise FailedPrecondition(f"invalid restart policy '{args.restart}'") from None
    if not changes:
        raise ClientError("you must provide one or more flags when using this command")
    service = _service(args)
    code = 0
    for name in args.containers:   # each refusal is the daemon's, as in Docker
        try:
            cid = service.store.get(name).id
            try:
                update(service, name, changes)
            except HullError as e:
                e.args = (f"Cannot update container {cid}: {e}",)
                raise
            print(name)
        except HullError as e:
            print(f"Error response from daemon: {e}", file=sys.stderr)
            code = 1
    return code


def register(sub: Any) -> None:
    stats = sub.add_parser("stats", help="Display a live stream of container(s) resource "
                           "usage statistics")
    stats.add_argument("-a", "--all", action="store_true",
                       help="Show all containers (default shows just running)")
    stats.add_argument("--no-stream", action="store_true",
                       help="Disable streaming stats and only pull the first result")
    stats.add_argument("--no-trunc", action="store_true", help="Do not truncate output")
    stats.add_argument("--format", help="Format output using a custom template: 'table', "
                       "'table TEMPLATE', 'json', or a Go template")
    stats.add_argument("containers", nargs="*")
    stats.set_defaults(run=cmd_stats)
    top = sub.add_parser("top", help="Display the running processes of a container")
    top.add_argument("container")
    top.add_argument("ps_args", nargs="...")
    top.set_defaults(run=cmd_top)
    update = sub.add_parser("update", help="Update configuration of one or more containers")
    for name, text in (
            ("--cpus", "Number of CPUs"),
            ("--cpu-period", "Limit CPU CFS (Completely Fair Scheduler) period"),
            ("--cpu-quota", "Limit CPU CFS (Completely Fair Scheduler) quota"),
            ("--cpuset-cpus", "CPUs in which to allow execution (0-3, 0,1)"),
            ("--cpuset-mems", "MEMs in which to allow execution (0-3, 0,1)"),
            ("-m", "Memory limit"),
            ("--memory-swap", "Swap limit equal to memory plus swap: -1 to enable unlimited "
             "swap"),
            ("--memory-reservation", "Memory soft limit"),
            ("--pids-limit", "Tune container pids limit (set -1 for unlimited)"),
            ("--blkio-weight", "Block IO (relative weight), between 10 and 1000, or 0 to "
             "disable"),
            ("--restart", "Restart policy to apply when a container exits")):
        update.add_argument(name, *(["--memory"] if name == "-m" else []), help=text,
                            **({"dest": "memory"} if name == "-m" else {}))
    update.add_argument("-c", "--cpu-shares", help="CPU shares (relative weight)")
    update.add_argument("containers", nargs="+")
    update.set_defaults(run=cmd_update)


def cmd_reconcile(args: argparse.Namespace) -> int:
    """Have the root's engine service running: starting, it takes over what it finds
    (containers recorded running, restart policies to honour after a reboot); the answer
    comes once it has."""
    from hull.cli.common import container_service
    container_service(args.root).supervised().wait("")
    return 0


def cmd_install_service(args: argparse.Namespace) -> int:
    """Write the systemd units that start the engine service at boot (restart policies)
    and socket-activate it; enable them when systemd runs here."""
    import os
    import shutil
    import subprocess

    from hull.engine.reconcile import unit_files
    hull = shutil.which("hull") or os.path.join(os.path.dirname(sys.executable), "hull")
    os.makedirs(args.dir, exist_ok=True)
    for name, text in unit_files(os.path.realpath(hull), os.path.abspath(args.root)).items():
        path = os.path.join(args.dir, name)
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.replace(path + ".tmp", path)
        print(path)
    if args.enable:
        if not os.path.isdir("/run/systemd/system"):
            from hull.errors import FailedPrecondition
            raise FailedPrecondition("systemd is not running here: units written, not "
                                     "enabled")
        subprocess.run(["systemctl", "daemon-reload"], check=True)
        subprocess.run(["systemctl", "enable", "--now", "hull-reconcile.service",
                        "hull.socket"], check=True)
    return 0


def cmd_seccomp_profile(args: argparse.Namespace) -> int:
    """Print the default seccomp profile in Docker's format: the start of a custom one."""
    import json

    from hull.engine import seccomp_default
    print(json.dumps(seccomp_default.profile(), indent=2))
    return 0


def cmd_service(args: argparse.Namespace) -> int:
    """`system service`: the engine service of this root, in the foreground (the thin
    client normally starts it itself); --stop asks the running one to leave."""
    import os
    import signal

    from hull.service import protocol
    state = protocol.state_dir(os.path.abspath(args.root))
    if args.stop:
        try:
            with open(os.path.join(state, protocol.PIDFILE)) as f:
                pid = int(f.read().strip())
            os.kill(pid, signal.SIGTERM)
        except (OSError, ValueError):
            print("no engine service runs for this root", file=sys.stderr)
        return 0
    from hull.service import keeper
    if args.socket is not None and keeper.KEEPER_FD not in os.environ:
        from hull.cli.apiservice import serve_api
        return serve_api(args, state)
    if keeper.KEEPER_FD not in os.environ:   # run as a command: become the root's keeper,
        argv = keeper.keeper_argv(os.path.abspath(args.root),   # which starts the service
                                  [] if args.time is None else ["--time", str(args.time)])
        os.execve(argv[0], argv, {**os.environ, "HULL_STATE": state})
    from hull.service.server import serve
    # the command line's main and parser builder come with the arguments (cli/main.py
    # puts them there): this module is below main and does not import it
    return serve(os.path.abspath(args.root), state, args.hull_main, args.time,
                 args.hull_prepare)


def register_system(ssub: Any) -> None:
    """`hull system …` commands about supervision and defaults."""
    service = ssub.add_parser("service", help="Run this root's engine service in the "
                              "foreground (hull starts one on demand)")
    service.add_argument("--time", "-t", type=float, default=None,
                         help="Seconds without a command (with --socket: without an API "
                         "request) before it leaves (0: never; default "
                         "HULL_SERVICE_IDLE_EXIT or 300; with --socket 0)")
    service.add_argument("--socket", "-H", nargs="?", const="", default=None,
                         metavar="URL", help="Serve the Docker Engine API on URL: "
                         "unix:///PATH (default /run/hull/docker.sock; <state>/docker.sock "
                         "for another root), fd:// (systemd), or tcp://HOST:PORT with TLS")
    for flag, text in (("--tlscacert", "CA certificate clients must be signed by"),
                       ("--tlscert", "the API's TLS certificate"),
                       ("--tlskey", "the API's TLS key")):
        service.add_argument(flag, help=text)
    service.add_argument("--tlsverify", action="store_true",
                         help="TLS with client certificates verified (required for tcp://)")
    service.add_argument("--stop", action="store_true",
                         help="Ask the running service to leave once nothing runs (a "
                         "second --stop: at once)")
    service.set_defaults(run=cmd_service)
    ssub.add_parser("seccomp-profile", help="Print the default seccomp profile (Docker's "
                    "JSON format, for --security-opt seccomp=FILE)"
                    ).set_defaults(run=cmd_seccomp_profile)
    ssub.add_parser("reconcile", help="Start the engine service, which takes over running "
                    "containers and starts those whose restart policy says so (run at boot)"
                    ).set_defaults(run=cmd_reconcile)
    install = ssub.add_parser("install-service", help="Write the systemd units that run "
                              "`hull system reconcile` at boot and socket-activate the "
                              "engine service")
    install.add_argument("--dir", default="/etc/systemd/system",
                         help='Directory to write the units to (default "/etc/systemd/system")')
    install.add_argument("--enable", action="store_true", help="Also reload systemd and "
                         "enable and start the units (systemd must be running)")
    install.set_defaults(run=cmd_install_service)
    register_events(ssub)


def register_events(sub: Any) -> None:
    """`events`, also as `system events`."""
    events = sub.add_parser("events", help="Get real time events from the engine")
    events.add_argument("--since", help="Show all events created since timestamp")
    events.add_argument("--until", help="Stream events until this timestamp")
    events.add_argument("-f", "--filter", action="append",
                        help="Filter output based on conditions provided")
    events.add_argument("--format", help="Format output using a custom template: 'json', or "
                        "a Go template")
    events.set_defaults(run=cmd_events)
