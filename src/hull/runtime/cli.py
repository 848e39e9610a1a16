"""hull-runtime: a runc-compatible command line over hull.runtime.

The surface is what real callers use (containerd's shim, podman's conmon, containerd's CRI,
the OCI runtime-tools): global --root/--log/--log-format/--debug, then create, start, run,
state, kill, delete, exec, ps, pause, resume, update, list, spec, features, events.
Errors go to stderr and, because the shim reads the last error from there, to --log in
runc's format (JSON lines with "level" and "msg" under --log-format json).
"""

from __future__ import annotations

import os
import sys
from types import SimpleNamespace as Args

from hull.errors import HullError, InvalidArgument
from hull.trace import mark

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_ROOT = "/run/hull-runtime"

# A flag is (names, destination, kind): kind "bool" takes no value, "value" one, "list" one
# per use. argparse would do, but costs ~10 ms of imports on every container start; the
# grammar here is urfave/cli's as runc uses it: --flag VALUE, --flag=VALUE, -f VALUE.
Flag = tuple[tuple[str, ...], str, str]
GLOBAL: list[Flag] = [
    (("--root",), "root", "value"), (("--log",), "log", "value"),
    (("--log-format",), "log_format", "value"), (("--debug",), "debug", "bool"),
    (("--systemd-cgroup",), "systemd_cgroup", "bool"), (("--rootless",), "rootless", "value"),
    (("--criu",), "criu", "value"), (("-v", "--version"), "version", "bool"),
    (("-h", "--help"), "help", "bool"),
]
_CREATE: list[Flag] = [
    (("-b", "--bundle"), "bundle", "value"), (("--pid-file",), "pid_file", "value"),
    (("--console-socket",), "console_socket", "value"),
    (("--preserve-fds",), "preserve_fds", "value"), (("--no-pivot",), "no_pivot", "bool"),
    (("--no-new-keyring",), "no_new_keyring", "bool"),
]
_UPDATE = [((f"--{n}",), n.replace("-", "_"), "value") for n in (
    "blkio-weight", "cpu-period", "cpu-quota", "cpu-burst", "cpu-share", "cpu-rt-period",
    "cpu-rt-runtime", "cpuset-cpus", "cpuset-mems", "memory", "memory-reservation",
    "memory-swap", "kernel-memory", "kernel-memory-tcp", "pids-limit", "l3-cache-schema",
    "mem-bw-schema")]
# command -> (flags, positional names, name of the list that takes everything after them)
COMMANDS: dict[str, tuple[list[Flag], list[str], str | None]] = {
    "create": (_CREATE, ["id"], None),
    "run": ([*_CREATE, (("-d", "--detach"), "detach", "bool"), (("--keep",), "keep", "bool")],
            ["id"], None),
    "start": ([], ["id"], None),
    "state": ([], ["id"], None),
    "kill": ([(("-a", "--all"), "all", "bool")], ["id", "signal?"], None),
    "delete": ([(("-f", "--force"), "force", "bool")], ["id"], None),
    "exec": ([(("-p", "--process"), "process", "value"), (("-d", "--detach"), "detach", "bool"),
              (("--pid-file",), "pid_file", "value"),
              (("--console-socket",), "console_socket", "value"),
              (("-t", "--tty"), "tty", "bool"), (("--cwd",), "cwd", "value"),
              (("-e", "--env"), "env", "list"), (("-u", "--user"), "user", "value"),
              (("-g", "--additional-gids"), "additional_gids", "list"),
              (("-c", "--cap"), "cap", "list"), (("--no-new-privs",), "no_new_privs", "bool"),
              (("--apparmor",), "apparmor", "value"),
              (("--process-label",), "process_label", "value"),
              (("--preserve-fds",), "preserve_fds", "value"),
              (("--ignore-paused",), "ignore_paused", "bool"),
              (("--cgroup",), "cgroup", "list")], ["id"], "args"),
    "ps": ([(("-f", "--format"), "format", "value")], ["id"], "ps_args"),
    "pause": ([], ["id"], None),
    "resume": ([], ["id"], None),
    "update": ([(("-r", "--resources"), "resources", "value"), *_UPDATE], ["id"], None),
    "list": ([(("-f", "--format"), "format", "value"), (("-q", "--quiet"), "quiet", "bool")],
             [], None),
    "spec": ([(("-b", "--bundle"), "bundle", "value"), (("--rootless",), "rootless", "bool")],
             [], None),
    "features": ([], [], None),
    "events": ([(("--stats",), "stats", "bool"), (("--interval",), "interval", "value")],
               ["id"], None),
}
DEFAULTS: dict[str, Any] = {
    "root": os.environ.get("HULL_RUNTIME_ROOT", DEFAULT_ROOT), "log_format": "text",
    "bundle": ".", "preserve_fds": "0", "format": "table", "interval": "5s", "signal": "SIGTERM",
}
USAGE = """usage: hull-runtime [global flags] COMMAND [flags] ID [ARGS...]

hull's OCI runtime (runc-compatible).
commands: create run start state kill delete exec ps pause resume update list spec
          features events
global flags: --root DIR  --log FILE  --log-format text|json  --debug  --systemd-cgroup
"""


def _take(argv: list[str], i: int, flags: list[Flag], out: Args) -> int:
    """Consume one flag at argv[i]; returns the index after it."""
    arg = argv[i]
    name, eq, inline = arg.partition("=")
    for names, dest, kind in flags:
        if name in names:
            if kind == "bool":
                if eq:
                    raise InvalidArgument(f"flag {name} takes no value")
                setattr(out, dest, True)
                return i + 1
            if eq:
                value, nxt = inline, i + 1
            elif i + 1 < len(argv):
                value, nxt = argv[i + 1], i + 2
            else:
                raise InvalidArgument(f"flag {name} needs a value")
            if kind == "list":
                getattr(out, dest).append(value)
            else:
                setattr(out, dest, value)
            return nxt
    raise InvalidArgument(f"unknown flag {name}")


def parse_args(argv: list[str]) -> Args:
    out = Args(command=None, **DEFAULTS)
    for _, dest, kind in GLOBAL:
        if not hasattr(out, dest):
            setattr(out, dest, [] if kind == "list" else False if kind == "bool" else None)
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        i = _take(argv, i, GLOBAL, out)
    if i == len(argv):
        return out
    out.command = argv[i]
    if out.command not in COMMANDS:
        raise InvalidArgument(f"unknown command {out.command!r}")
    flags, positionals, rest = COMMANDS[out.command]
    for _, dest, kind in flags:
        if not hasattr(out, dest) or kind != "value" or dest not in DEFAULTS:
            setattr(out, dest, [] if kind == "list" else False if kind == "bool" else
                    DEFAULTS.get(dest))
    if rest:
        setattr(out, rest, [])
    i += 1
    filled = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--" and filled == len(positionals) and rest:
            getattr(out, rest).extend(argv[i + 1:])
            break
        if arg.startswith("-") and len(arg) > 1 and not (rest and filled == len(positionals)):
            i = _take(argv, i, flags, out)
            continue
        if filled < len(positionals):
            setattr(out, positionals[filled].rstrip("?"), arg)
            filled += 1
        elif rest:
            getattr(out, rest).extend(argv[i:])
            break
        else:
            raise InvalidArgument(f"{out.command}: unexpected argument {arg!r}")
        i += 1
    required = [p for p in positionals if not p.endswith("?")]
    if filled < len(required):
        raise InvalidArgument(f"{out.command}: missing {required[filled].upper()} argument")
    try:
        out.preserve_fds = int(getattr(out, "preserve_fds", None) or 0)
    except ValueError:
        raise InvalidArgument(f"--preserve-fds: {out.preserve_fds!r} is not a number") from None
    if out.log_format not in ("text", "json"):
        raise InvalidArgument(f"--log-format: {out.log_format!r} (want text or json)")
    return out


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    mark("cli: start")
    try:
        args = parse_args(raw)
    except InvalidArgument as e:
        print(f"hull-runtime: {e}\n{USAGE}", file=sys.stderr, end="")
        return 1
    if args.version:
        from hull import __version__
        print(f"hull-runtime version {__version__}\nspec: 1.2.0")
        return 0
    if args.help or not args.command:
        print(USAGE, end="")
        return 0
    try:
        from hull.runtime import commands
        result: int = getattr(commands, "cmd_" + args.command)(args)
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


def _report(args: Args, message: str) -> None:
    print(f"hull-runtime: {message}", file=sys.stderr)
    if not args.log:
        return
    from hull import fastjson
    from hull.runtime.state import now_rfc3339
    if args.log_format == "json":
        line = fastjson.dumps({"level": "error", "msg": message, "time": now_rfc3339()})
    else:
        line = f'time="{now_rfc3339()}" level=error msg={fastjson.dumps(message)}'
    try:
        with open(args.log, "a") as f:
            f.write(line + "\n")
    except OSError:
        pass


if __name__ == "__main__":
    sys.exit(main())
