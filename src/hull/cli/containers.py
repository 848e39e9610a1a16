"""Container commands on existing containers: logs, exec, stop, kill, rm, pause, restart,
rename, commit, diff, export, prune, port, wait — and the registration of every container
command (run/create/start/attach live in cli/run.py, their flags in cli/runflags.py)."""

from __future__ import annotations

import sys

from hull.engine import humanize

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any



def _service(args: argparse.Namespace) -> Any:
    from hull.cli.common import container_service
    return container_service(args.root)


def cmd_logs(args: argparse.Namespace) -> int:
    service = _service(args)
    if args.follow:
        entries: Any = service.follow_logs(args.container)
    else:
        entries = service.logs(args.container)
        from hull.cli.common import when
        since = when(args.since) if args.since else None
        until = when(args.until) if args.until else None
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
    from hull.runtime.signals import parse_signal
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
    from hull.engine import filesystem
    from hull.errors import ClientError
    if not args.output and sys.stdout.isatty():
        raise ClientError("cowardly refusing to save to a terminal. Use the -o flag or "
                          "redirect")
    service = _service(args)
    if args.output:
        with open(args.output, "wb") as out:
            filesystem.export(service, args.container, out)
    else:
        filesystem.export(service, args.container, sys.stdout.buffer)
    return 0


def cmd_exec(args: argparse.Namespace) -> int:
    from hull.errors import InvalidArgument
    if args.tty and args.detach:
        raise InvalidArgument("-t with -d: a detached exec has no terminal to attach")
    from hull.cli.run import check_tty
    from hull.cli.runflags import client_env
    check_tty(args.interactive and not args.detach, args.tty)
    if not args.command:
        from hull.errors import UsageError
        raise UsageError("exec: no command given")
    from hull.engine import execute
    return execute.run(_service(args), args.container, args.command,
                       client_env(args.env or []), args.user, args.workdir, args.detach,
                       tty=args.tty, interactive=args.interactive, privileged=args.privileged)


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


def cmd_commit(args: argparse.Namespace) -> int:
    from hull.engine import filesystem
    image_id = filesystem.commit(_service(args), args.container, args.repository,
                                 message=args.message, author=args.author,
                                 changes=args.change, pause=args.pause != "false")
    print(image_id)
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from hull.engine import filesystem
    for kind, path in filesystem.diff(_service(args), args.container):
        print(f"{kind} {path}")
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    from hull.cli.common import confirm
    from hull.engine.filters import Filters
    filters = Filters(args.filter, ("label", "label!", "until"))
    if not args.force and not confirm("WARNING! This will remove all stopped containers."):
        return 0
    removed, space = _service(args).prune(filters)
    if removed:
        print("Deleted Containers:\n" + "\n".join(removed) + "\n")
    print(f"Total reclaimed space: {humanize.size(space, 4)}")
    return 0


def cmd_wait(args: argparse.Namespace) -> int:
    service = _service(args)
    for name in args.containers:
        print(service.wait(name))
    return 0


def register(sub: Any) -> None:
    """Every container command at the top level (`hull ps`) and under `hull container`
    (`hull container ls`), as docker has them."""
    _commands(sub, top=True)
    container = sub.add_parser("container", help="Manage containers")
    csub = container.add_subparsers(dest="container_command", metavar="COMMAND",
                                    parser_class=type(container))
    _commands(csub, top=False)


def _commands(sub: Any, top: bool) -> None:
    from hull.cli import copy, networks, observe
    networks.register_port(sub)
    copy.register(sub)
    observe.register(sub)
    if top:
        observe.register_events(sub)
    run = sub.add_parser("run", help="Create and run a new container from an image",
                         add_help=False, usage="%(prog)s [OPTIONS] IMAGE [COMMAND] [ARG...]")
    from hull.cli import run as run_cli
    from hull.cli.runflags import run_flags
    run_flags(run)
    run.set_defaults(run=run_cli.cmd_run)
    create = sub.add_parser("create", help="Create a new container", add_help=False,
                            usage="%(prog)s [OPTIONS] IMAGE [COMMAND] [ARG...]")
    run_flags(create, creating=True)
    create.set_defaults(run=run_cli.cmd_create)
    start = sub.add_parser("start", help="Start one or more stopped containers")
    start.add_argument("-a", "--attach", action="store_true",
                       help="Attach STDOUT/STDERR (signals are not forwarded)")
    start.add_argument("-i", "--interactive", action="store_true",
                       help="Attach container's STDIN")
    start.add_argument("--detach-keys",
                       help="Override the key sequence for detaching a container")
    start.add_argument("containers", nargs="+")
    start.set_defaults(run=run_cli.cmd_start)
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
    attach.set_defaults(run=run_cli.cmd_attach)
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
    wait = sub.add_parser("wait", help="Block until one or more containers stop, then "
                          "print their exit codes")
    wait.add_argument("containers", nargs="+")
    wait.set_defaults(run=cmd_wait)
