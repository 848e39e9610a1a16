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
    """Usage errors as the docker command reports them: a missing argument or an unknown
    command exits 1, a bad or unknown flag exits 125, each with the command's usage and
    where to find its help. --help is laid out as Docker's (cli/helptext.py)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from hull.cli.helptext import DockerHelpFormatter
        kwargs.setdefault("formatter_class", DockerHelpFormatter)
        super().__init__(*args, **kwargs)
        self.register("action", "parsers", _Commands)
        for action in self._actions:
            if isinstance(action, argparse._HelpAction):
                action.help = "Print usage"

    def error(self, message: str) -> None:  # type: ignore[override]
        if message.startswith("the following arguments are required"):
            positionals = [a for a in self._actions if not a.option_strings
                           and a.nargs not in ("?", "*", "...", argparse.PARSER)]
            count = getattr(self, "min_args", len(positionals))
            least = any(a.nargs in ("+", "*", "...") for a in self._actions
                        if not a.option_strings)
            noun = "argument" if count == 1 else "arguments"
            self._fail(1, f"hull: '{self.prog}' requires {'at least ' if least else ''}"
                       f"{count} {noun}", usage=True, see="See")
        if "invalid choice" in message and message.startswith("argument COMMAND"):
            word = message.split("'")[1] if "'" in message else ""
            self._fail(1, f"hull: unknown command: {self.prog} {word}", usage=False)
        if message.startswith("unrecognized arguments: "):
            flag = message.removeprefix("unrecognized arguments: ").split()[0]
            if flag.startswith("--"):
                self._fail(125, f"unknown flag: {flag.partition('=')[0]}")
            if flag.startswith("-"):
                self._fail(125, f"unknown shorthand flag: {flag[1:2]!r} in {flag}")
            self._fail(125, f"hull: '{self.prog}' accepts no argument {flag!r}")
        if message.startswith("argument ") and ": " in message:
            names, _, why = message.removeprefix("argument ").partition(": ")
            flags = _flag_names(names.split("/"))
            if why.startswith("expected"):
                self._fail(125, f"flag needs an argument: {flags}")
            value = why.rpartition(": ")[2].strip("'")
            if why.startswith("invalid int value"):
                why = f'strconv.ParseInt: parsing "{value}": invalid syntax'
            self._fail(125, f'invalid argument "{value}" for "{flags}" flag: {why}')
        self._fail(125, f"{self.prog}: {message}")

    def fail_flag(self, error: HullError) -> None:
        """A flag's value the command refused (FlagError): Docker's usage error."""
        self._fail(error.exit_code, str(error))

    def _fail(self, code: int, text: str, usage: bool = True, see: str = "Run") -> None:
        out = [text]
        if usage:
            out += ["", self.format_usage().strip().replace("usage: ", "Usage:  ", 1)]
        out += ["", f"{see} '{self.prog} --help' for more information"]
        print("\n".join(out), file=sys.stderr)
        sys.exit(code)


def _flag_names(names: list[str]) -> str:
    """A flag as Docker names it in messages: "-t, --timeout" (the short form, the first
    long one)."""
    shorts = [n for n in names if not n.startswith("--")]
    longs = [n for n in names if n.startswith("--")]
    return ", ".join(shorts[:1] + longs[:1])


class _Commands(argparse._SubParsersAction):  # type: ignore[type-arg]
    """A command's one-line help is also the description its own --help shows."""

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        if kwargs.get("help") and "description" not in kwargs:
            text = str(kwargs["help"])
            kwargs["description"] = text[:1].upper() + text[1:]
        parser: argparse.ArgumentParser = super().add_parser(name, **kwargs)
        return parser


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


PREBUILT: argparse.ArgumentParser | None = None   # the whole parser, built once by the
# engine service before it forks its workers (a command alone builds only its own)


def parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line; with `only`, just that command's parser is built (the whole one
    when there is no such command, so that the usage error lists them all)."""
    from hull.cli import build, containers, images, networks, registry, system, volumes
    p = _Parser(prog="hull", description="A Docker-compatible container engine.",
                add_help=False)
    p.add_argument("--help", action="help", help="Print usage")
    p.add_argument("--root", default=os.environ.get("HULL_ROOT", DEFAULT_ROOT),
                   help="Root directory of persistent hull state: images, containers, "
                   'volumes (default "/var/lib/hull", or HULL_ROOT)')
    p.add_argument("--debug", "-D", action="store_true",
                   help="Enable debug mode (tracebacks for errors)")
    p.add_argument("-v", "--version", action="store_true",
                   help="Print version information and quit")
    sub = p.add_subparsers(dest="hull_command", metavar="COMMAND", parser_class=_Parser)
    target: Any = sub if only is None else _Only(sub, only)
    containers.register(target)
    images.register(target)
    system.register_group(target)
    registry.register(target)
    volumes.register(target)
    networks.register(target)
    build.register(target)
    if only is not None and not target.found:
        return parser()
    # `system service` runs commands with this module's main; the command modules sit
    # below this one and get it (and the parser builder) with their arguments
    p.set_defaults(hull_main=main, hull_prepare=_prebuild)
    return p


def _prebuild() -> None:
    """Each command's parser built once, in the engine service, not once per command."""
    global PREBUILT
    PREBUILT = parser()


def _command_parser(top: argparse.ArgumentParser, args: argparse.Namespace
                    ) -> argparse.ArgumentParser:
    """The parser of the (sub)command that was parsed, for its usage line."""
    current = top
    while True:
        sub = next((a for a in current._actions
                    if isinstance(a, argparse._SubParsersAction)), None)
        if sub is None:
            return current
        word = getattr(args, sub.dest or "", None)
        if word is None or word not in sub.choices:
            return current
        current = sub.choices[word]


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
    if _command_word(argv) == "help":   # `hull help ps` is `hull ps --help`
        argv = list(argv)
        argv.remove("help")
        argv.append("--help")
    top = PREBUILT or parser(_command_word(argv))
    args, unknown = top.parse_known_args(argv)
    if unknown:   # reported by the command's own parser, with its usage
        command = _command_parser(top, args)
        command.error(f"unrecognized arguments: {' '.join(unknown)}")
    mark("cli: arguments parsed")
    if args.version:
        from hull import __version__, commit
        print(f"hull version {__version__}, build {commit()}")
        return 0
    if not getattr(args, "run", None):   # `hull`, `hull image`: the help, on stderr
        _command_parser(top, args).print_help(sys.stderr)
        return 0
    try:
        code: int = args.run(args)
        return code
    except HullError as e:
        from hull.errors import ClientError, FlagError, UsageError
        if isinstance(e, FlagError):
            _command_parser(top, args).fail_flag(e)  # type: ignore[attr-defined]
        if isinstance(e, UsageError):
            _command_parser(top, args).error("the following arguments are required")
        # as the docker command words them: its own refusals bare, the engine's answers
        # (no such container, a conflict, a bad filter: exit 1) as the daemon's, the rest
        # (exit 125 and up) under the command's name
        print(str(e) if isinstance(e, ClientError) else
              f"Error response from daemon: {e}" if e.exit_code == 1 else f"hull: {e}",
              file=sys.stderr)
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
        if args.debug:
            raise
        import sqlite3
        if isinstance(e, sqlite3.Error):
            print(f"hull: metadata database under {args.root}: {e}", file=sys.stderr)
        else:   # a bug: one line naming it, the traceback only with --debug
            print(f"hull: internal error: {type(e).__name__}: {e} (run with --debug for the "
                  "traceback)", file=sys.stderr)
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
