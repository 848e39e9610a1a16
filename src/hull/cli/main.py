"""`hull`: the Docker-compatible command line. Parses, calls the engine, prints; exit codes
are Docker's (125 engine error, 126 cannot invoke, 127 not found, 1 for "No such ...")."""

from __future__ import annotations

import argparse
import os
import sys

from hull.errors import HullError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_ROOT = "/var/lib/hull"


class _Parser(argparse.ArgumentParser):
    """Usage errors exit 125, as docker's do."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: {message}", file=sys.stderr)
        sys.exit(125)


class _Ignored:
    """Stands in for the parsers of commands this invocation does not run: whatever is
    asked of it (add_argument, set_defaults, add_subparsers, …) it takes and drops."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: _Ignored()


class _Only:
    """The subcommand registry, keeping only the command being run: building all ~300
    arguments of every command took 25 ms of each hull invocation."""

    def __init__(self, sub: Any, wanted: str) -> None:
        self.sub, self.wanted, self.found = sub, wanted, False

    def add_parser(self, name: str, **kwargs: Any) -> Any:
        if name == self.wanted or self.wanted in kwargs.get("aliases", ()):
            self.found = True
            return self.sub.add_parser(name, **kwargs)
        return _Ignored()


def parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line; with `only`, just that command's parser is built (the whole one
    when there is no such command, so that the usage error lists them all)."""
    from hull.cli import containers, images, registry, volumes
    p = _Parser(prog="hull", description="A daemonless, Docker-compatible container engine.",
                add_help=False)
    p.add_argument("--help", action="help", help="show this help")
    p.add_argument("--root", default=os.environ.get("HULL_ROOT", DEFAULT_ROOT),
                   help="where images and containers live (default /var/lib/hull, HULL_ROOT)")
    p.add_argument("--debug", "-D", action="store_true", help="tracebacks for errors")
    p.add_argument("-v", "--version", action="store_true")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    target: Any = sub if only is None else _Only(sub, only)
    target.add_parser("version", help="show the version")
    containers.register(target)
    images.register(target)
    registry.register(target)
    volumes.register(target)
    if only is not None and not target.found:
        return parser()
    return p


def _command_word(argv: list[str]) -> str | None:
    """The first word that is not a global option (or its value): the command."""
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif word == "--root":
            skip = True
        elif not word.startswith("-"):
            return word
    return None


def main(argv: list[str] | None = None) -> int:
    from hull.trace import mark
    mark("cli: interpreter up, hull.cli imported")
    argv = sys.argv[1:] if argv is None else argv
    args = parser(_command_word(argv)).parse_args(argv)
    mark("cli: arguments parsed")
    if args.version or args.command == "version":
        from hull import __version__
        print(f"hull version {__version__}")
        return 0
    if not getattr(args, "run", None):
        parser(None if not args.command else args.command).print_help()
        return 0 if not args.command else 125
    try:
        code: int = args.run(args)
        return code
    except HullError as e:
        print(f"Error: {e}" if e.exit_code == 1 else f"hull: {e}", file=sys.stderr)
        if args.debug:
            raise
        return e.exit_code
    except BrokenPipeError:   # `hull logs x | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as e:
        print(f"hull: {e.strerror or e}" + (f": {e.filename}" if e.filename else ""),
              file=sys.stderr)
        if args.debug:
            raise
        return 125
    except Exception as e:
        import sqlite3
        if not isinstance(e, sqlite3.Error) or args.debug:
            raise
        print(f"hull: metadata database under {args.root}: {e}", file=sys.stderr)
        return 125
    except KeyboardInterrupt:
        return 130


def entry() -> None:
    """The `hull` launcher's entry: main(), then out without the interpreter's teardown.
    Tearing down took ~14 ms of every command, most of it SQLite checkpointing its WAL
    into the database as the last connection closed — work the next command does not
    need (committed transactions are already durable in the WAL, and SQLite checkpoints
    on its own as the WAL grows)."""
    try:
        code = main()
    except SystemExit as e:   # argparse: usage errors and --help
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        pass
    os._exit(code)
