"""hull-runtime: a runc-compatible command line over hull.runtime.

The surface is what real callers use (containerd's shim, podman's conmon, containerd's CRI,
the OCI runtime-tools): global --root/--log/--log-format/--debug, then create, start, run,
state, kill, delete, exec, ps, pause, resume, update, list, spec, features, events.
Errors go to stderr and, because the shim reads the last error from there, to --log in
runc's format (JSON lines with "level" and "msg" under --log-format json).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from hull.errors import HullError, InvalidArgument

DEFAULT_ROOT = "/run/hull-runtime"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hull-runtime", description="hull's OCI runtime")
    p.add_argument("--root", default=os.environ.get("HULL_RUNTIME_ROOT", DEFAULT_ROOT))
    p.add_argument("--log", default=None)
    p.add_argument("--log-format", choices=["text", "json"], default="text")
    p.add_argument("--debug", action="store_true")
    p.add_argument("--systemd-cgroup", action="store_true")
    p.add_argument("--rootless", default="auto")
    p.add_argument("--criu", default=None, help=argparse.SUPPRESS)
    p.add_argument("-v", "--version", action="store_true")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def create_flags(c: argparse.ArgumentParser) -> None:
        c.add_argument("-b", "--bundle", default=".")
        c.add_argument("--pid-file")
        c.add_argument("--console-socket")
        c.add_argument("--preserve-fds", type=int, default=0)
        c.add_argument("--no-pivot", action="store_true")
        c.add_argument("--no-new-keyring", action="store_true")
        c.add_argument("id")

    create_flags(sub.add_parser("create", help="create a container"))
    r = sub.add_parser("run", help="create and start a container")
    create_flags(r)
    r.add_argument("-d", "--detach", action="store_true")
    r.add_argument("--keep", action="store_true")
    sub.add_parser("start").add_argument("id")
    sub.add_parser("state").add_argument("id")
    k = sub.add_parser("kill")
    k.add_argument("-a", "--all", action="store_true")
    k.add_argument("id")
    k.add_argument("signal", nargs="?", default="SIGTERM")
    d = sub.add_parser("delete")
    d.add_argument("-f", "--force", action="store_true")
    d.add_argument("id")
    e = sub.add_parser("exec")
    e.add_argument("-p", "--process")
    e.add_argument("-d", "--detach", action="store_true")
    e.add_argument("--pid-file")
    e.add_argument("--console-socket")
    e.add_argument("-t", "--tty", action="store_true")
    e.add_argument("--cwd")
    e.add_argument("-e", "--env", action="append", default=[])
    e.add_argument("-u", "--user")
    e.add_argument("-g", "--additional-gids", action="append", default=[])
    e.add_argument("-c", "--cap", action="append", default=[])
    e.add_argument("--no-new-privs", action="store_true")
    e.add_argument("--apparmor")
    e.add_argument("--process-label")
    e.add_argument("--preserve-fds", type=int, default=0)
    e.add_argument("--ignore-paused", action="store_true")
    e.add_argument("--cgroup")
    e.add_argument("id")
    e.add_argument("args", nargs=argparse.REMAINDER)
    ps = sub.add_parser("ps")
    ps.add_argument("-f", "--format", choices=["table", "json"], default="table")
    ps.add_argument("id")
    ps.add_argument("ps_args", nargs=argparse.REMAINDER)
    sub.add_parser("pause").add_argument("id")
    sub.add_parser("resume").add_argument("id")
    u = sub.add_parser("update")
    u.add_argument("-r", "--resources")
    for flag in ("--blkio-weight", "--cpu-period", "--cpu-quota", "--cpu-burst",
                 "--cpu-share", "--cpu-rt-period", "--cpu-rt-runtime", "--cpuset-cpus",
                 "--cpuset-mems", "--memory", "--memory-reservation", "--memory-swap",
                 "--kernel-memory", "--kernel-memory-tcp", "--pids-limit",
                 "--l3-cache-schema", "--mem-bw-schema"):
        u.add_argument(flag)
    u.add_argument("id")
    ls = sub.add_parser("list")
    ls.add_argument("-f", "--format", choices=["table", "json"], default="table")
    ls.add_argument("-q", "--quiet", action="store_true")
    sp = sub.add_parser("spec")
    sp.add_argument("-b", "--bundle", default=".")
    sp.add_argument("--rootless", action="store_true")
    sub.add_parser("features")
    ev = sub.add_parser("events")
    ev.add_argument("--stats", action="store_true")
    ev.add_argument("--interval", default="5s")
    ev.add_argument("id")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.version:
        from hull import __version__
        print(f"hull-runtime version {__version__}\nspec: 1.2.0")
        return 0
    if not args.command:
        _parser().print_help()
        return 0
    try:
        from hull.runtime import commands
        result: int = getattr(commands, "cmd_" + args.command.replace("-", "_"))(args)
        return result
    except HullError as e:
        _report(args, str(e))
        if args.debug:
            raise
        return e.exit_code if args.command in ("run", "exec") else 1
    except OSError as e:
        _report(args, f"{e.strerror or e}" + (f": {e.filename}" if e.filename else ""))
        if args.debug:
            raise
        return 1
    except KeyboardInterrupt:
        return 130


def _report(args: argparse.Namespace, message: str) -> None:
    print(f"hull-runtime: {message}", file=sys.stderr)
    if not args.log:
        return
    from hull.runtime.state import now_rfc3339
    if args.log_format == "json":
        line = json.dumps({"level": "error", "msg": message, "time": now_rfc3339()})
    else:
        line = f'time="{now_rfc3339()}" level=error msg={json.dumps(message)}'
    try:
        with open(args.log, "a") as f:
            f.write(line + "\n")
    except OSError:
        pass


def parse_signal(value: str) -> int:
    import signal
    text = value.upper()
    if text.isdigit():
        number = int(text)
        if not 0 < number < 65:
            raise InvalidArgument(f"invalid signal {value!r}")
        return number
    name = text if text.startswith("SIG") else "SIG" + text
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise InvalidArgument(f"invalid signal {value!r}") from None


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
