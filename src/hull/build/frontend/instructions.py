"""Parser nodes to typed instructions and build stages, with BuildKit's checks and
messages (its `instructions/parse.go`).

Each keyword validates its own shape — argument counts, flags, the JSON-only SHELL,
the HEALTHCHECK type, stage names — so a malformed Dockerfile fails before anything
is built, naming the line. Values are not expanded (see `instructions_commands`).

Flags are checked on every instruction but three: BuildKit never reads the flags of ARG,
STOPSIGNAL and `HEALTHCHECK NONE`, so `ARG --x a` builds there and must build here too.

A Dockerfile is a sequence of stages: the ARGs before the first FROM are the "meta"
args (usable in FROM lines), every other instruction belongs to the stage opened by the
FROM above it, and one before any FROM is an error.

The dataclasses are defined in `instructions_commands` and the flag reader in
`instructions_flags`; all are importable from here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypedDict

from hull.build.errors import DockerfileSyntaxError
from hull.build.frontend.instructions_commands import (
    ArgCommand,
    CmdCommand,
    Command,
    CopyCommand,
    EntrypointCommand,
    EnvCommand,
    ExposeCommand,
    FromCommand,
    HealthcheckCommand,
    LabelCommand,
    MaintainerCommand,
    OnbuildCommand,
    RunCommand,
    ShellCommand,
    Stage,
    StopSignalCommand,
    UserCommand,
    VolumeCommand,
    WorkdirCommand,
)
from hull.build.frontend.instructions_flags import (
    BFlags,
    Flag,
    FlagError,
    parse_go_duration,
    parse_go_int32,
    suggest,
)
from hull.build.frontend.parser import Heredoc, Node, Parsed, chomp
from hull.build.frontend.parser_lex import (
    HeredocLexError,
    go_quote,
    parse_heredoc_word,
    trim_space,
)

__all__ = [
    "ArgCommand", "BFlags", "CmdCommand", "Command", "CopyCommand", "EntrypointCommand",
    "EnvCommand", "ExposeCommand", "FromCommand", "HealthcheckCommand", "LabelCommand",
    "MaintainerCommand", "OnbuildCommand", "RunCommand", "ShellCommand", "Stage",
    "StopSignalCommand", "UserCommand", "VolumeCommand", "WorkdirCommand",
    "parse_instruction", "parse_stages",
]

NETWORK_MODES = ("default", "none", "host")
SECURITY_MODES = ("sandbox", "insecure")
_STAGE_NAME = re.compile(r"[a-z][a-z0-9-_.]*")
_ONBUILD_PREFIX = re.compile(r"^[\t\n\f\r ]*ONBUILD[\t\n\f\r ]*", re.IGNORECASE)
_KEYWORDS = ("add", "arg", "cmd", "copy", "entrypoint", "env", "expose", "from",
             "healthcheck", "label", "maintainer", "onbuild", "run", "shell", "stopsignal",
             "user", "volume", "workdir")


class _Invalid(ValueError):
    """An instruction-level error; `parse_instruction` adds the node's lines."""


class _Base(TypedDict):
    name: str
    line: int
    end_line: int
    original: str


class _Request:
    """What a per-keyword parser reads: the node's arguments and its flags."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.keyword = node.keyword or node.value
        self.args = _node_args(node)
        self.flags = BFlags(node.flags)

    def parse_flags(self) -> None:
        try:
            self.flags.parse()
        except FlagError as exc:
            raise _Invalid(str(exc)) from None

    def base(self) -> _Base:
        """The `Command` fields every instruction fills the same way."""
        return {"name": self.node.value.upper(), "line": self.node.start_line,
                "end_line": self.node.end_line, "original": trim_space(self.node.original)}


def _node_args(node: Node) -> list[str]:
    """BuildKit's `nodeArgs`: the values, and for ONBUILD the wrapped instruction's
    keyword followed by its values."""
    if node.inner is not None:
        inner = node.inner
        return [*node.next, inner.keyword or inner.value, *_node_args(inner)]
    return list(node.next)


def _at_least_one(keyword: str) -> _Invalid:
    return _Invalid(f"{keyword} requires at least one argument")


def _exactly_one(keyword: str) -> _Invalid:
    return _Invalid(f"{keyword} requires exactly one argument")


def _command_line(req: _Request) -> list[str]:
    """BuildKit's `handleJSONArgs`: the exec form's words, or the shell form as one."""
    if not req.args:
        return []
    return list(req.args) if req.node.json else [" ".join(req.args)]


# --- per-keyword parsers ---------------------------------------------------------------

def _key_values(req: _Request, keyword: str) -> tuple[list[tuple[str, str]], bool]:
    req.parse_flags()
    args = req.args
    if not args:
        raise _at_least_one(keyword)
    if len(args) % 3:
        raise _Invalid(f"Bad input to {keyword}, too many arguments")
    pairs = []
    for i in range(0, len(args), 3):
        if not args[i]:
            raise _Invalid(f"{keyword} names can not be blank")
        pairs.append((args[i], args[i + 1]))
    return pairs, args[2] == ""


def _parse_env(req: _Request) -> Command:
    pairs, legacy = _key_values(req, "ENV")
    return EnvCommand(pairs=pairs, legacy=legacy, **req.base())


def _parse_label(req: _Request) -> Command:
    pairs, legacy = _key_values(req, "LABEL")
    return LabelCommand(pairs=pairs, legacy=legacy, **req.base())


def _parse_maintainer(req: _Request) -> Command:
    if len(req.args) != 1:
        raise _exactly_one("MAINTAINER")
    req.parse_flags()
    return MaintainerCommand(maintainer=req.args[0], **req.base())


def _heredoc_word(word: str) -> Heredoc | None:
    """A `<<WORD` argument as a heredoc marker (BuildKit's MustParseHeredoc: a word
    that cannot be lexed is just not a marker)."""
    try:
        marker = parse_heredoc_word(word)
    except HeredocLexError:
        return None
    if marker is None:
        return None
    return Heredoc(marker.name, "", marker.expand, marker.chomp, marker.fd)


def _copy_or_add(req: _Request, is_add: bool) -> Command:
    keyword = "ADD" if is_add else "COPY"
    if len(req.args) < 2:
        raise _Invalid(f"{keyword} requires at least two arguments, but only one was "
                       "provided. Destination could not be determined")
    flags = req.flags
    # The flags only the other keyword takes are declared on a throwaway set, so they
    # stay at their defaults and count as unknown here.
    unaccepted = BFlags([])
    add_only = flags if is_add else unaccepted
    copy_only = unaccepted if is_add else flags
    chown = flags.add_string("chown")
    chmod = flags.add_string("chmod")
    link = flags.add_bool("link")
    excludes = flags.add_strings("exclude")
    keep_git_dir = add_only.add_bool("keep-git-dir")
    checksum = add_only.add_string("checksum")
    unpack = add_only.add_bool("unpack")
    from_ = copy_only.add_string("from")
    parents = copy_only.add_bool("parents")
    req.parse_flags()

    *sources, dest = req.args
    if _heredoc_word(dest) is not None:
        raise _Invalid(f"{keyword} cannot accept a heredoc as a destination")
    bodies = {heredoc.name: heredoc.written for heredoc in req.node.heredocs}
    paths: list[str] = []
    inline: list[Heredoc] = []
    for source in sources:
        marker = _heredoc_word(source)
        if marker is None:
            paths.append(source)
            continue
        content = bodies.get(marker.name, "")
        inline.append(Heredoc(marker.name, chomp(content) if marker.chomp else content,
                              marker.expand, marker.chomp, marker.fd, raw_content=content))
    return CopyCommand(sources=paths, dest=dest, heredocs=inline, from_=from_.value,
                       chown=chown.value, chmod=chmod.value, link=link.is_true,
                       excludes=excludes.values, parents=parents.is_true, is_add=is_add,
                       keep_git_dir=keep_git_dir.is_true, checksum=checksum.value,
                       unpack=unpack.value if unpack.used else "", **req.base())


def _parse_add(req: _Request) -> Command:
    return _copy_or_add(req, is_add=True)


def _parse_copy(req: _Request) -> Command:
    return _copy_or_add(req, is_add=False)


def _parse_from(req: _Request) -> Command:
    args = req.args
    stage_name = ""
    if len(args) == 3 and args[1].lower() == "as":
        stage_name = args[2].lower()
        if not _STAGE_NAME.fullmatch(stage_name):
            raise _Invalid(f"invalid name for build stage: {go_quote(args[2])}, name can't "
                           "start with a number or contain symbols")
    elif len(args) != 1:
        raise _Invalid("FROM requires either one or three arguments")
    platform = req.flags.add_string("platform")
    req.parse_flags()
    return FromCommand(base=args[0], stage_name=stage_name, platform=platform.value,
                       **req.base())


def _parse_onbuild(req: _Request) -> Command:
    if not req.args:
        raise _at_least_one("ONBUILD")
    req.parse_flags()
    trigger = req.args[0].strip().upper()
    if trigger == "ONBUILD":
        raise _Invalid("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if trigger in ("MAINTAINER", "FROM"):
        raise _Invalid(f"{trigger} isn't allowed as an ONBUILD trigger")
    expression = _ONBUILD_PREFIX.sub("", req.node.original, count=1)
    for heredoc in req.node.heredocs:
        expression += "\n" + heredoc.written + heredoc.name
    return OnbuildCommand(expression=expression, **req.base())


def _parse_workdir(req: _Request) -> Command:
    if len(req.args) != 1:
        raise _exactly_one("WORKDIR")
    req.parse_flags()
    return WorkdirCommand(path=req.args[0], **req.base())


def _parse_run(req: _Request) -> Command:
    mounts = req.flags.add_strings("mount")
    network = req.flags.add_string("network", "default")
    security = req.flags.add_string("security", "sandbox")
    devices = req.flags.add_strings("device")
    req.parse_flags()
    if network.value not in NETWORK_MODES:
        raise _Invalid(f"invalid network mode {go_quote(network.value)}")
    if security.value not in SECURITY_MODES:
        raise _Invalid(f"security {go_quote(security.value)} is not valid")
    return RunCommand(args=_command_line(req), prepend_shell=not req.node.json,
                      heredocs=list(req.node.heredocs), mounts=mounts.values,
                      network=network.value, security=security.value,
                      devices=devices.values, flags_used=req.flags.used(),
                      **req.base())


def _parse_cmd(req: _Request) -> Command:
    req.parse_flags()
    return CmdCommand(args=_command_line(req), prepend_shell=not req.node.json,
                      **req.base())


def _parse_entrypoint(req: _Request) -> Command:
    req.parse_flags()
    return EntrypointCommand(args=_command_line(req), prepend_shell=not req.node.json,
                             **req.base())


def _interval(flag: Flag) -> int:
    """A HEALTHCHECK duration flag in nanoseconds: 0 when unset or zero, else at least
    1ms."""
    if not flag.value:
        return 0
    try:
        duration = parse_go_duration(flag.value)
    except ValueError as exc:
        raise _Invalid(str(exc)) from None
    if duration == 0:
        return 0
    if duration < 1_000_000:
        raise _Invalid(f"Interval {go_quote(flag.name)} cannot be less than 1ms")
    return duration


def _parse_healthcheck(req: _Request) -> Command:
    if not req.args:
        raise _at_least_one("HEALTHCHECK")
    kind = req.args[0].upper()
    args = req.args[1:]
    if kind == "NONE":
        if args:
            raise _Invalid("HEALTHCHECK NONE takes no arguments")
        return HealthcheckCommand(test=["NONE"], **req.base())
    flags = req.flags
    interval = flags.add_string("interval")
    timeout = flags.add_string("timeout")
    start_period = flags.add_string("start-period")
    start_interval = flags.add_string("start-interval")
    retries_flag = flags.add_string("retries")
    req.parse_flags()
    if kind != "CMD":
        raise _Invalid(f"Unknown type {go_quote(kind)} in HEALTHCHECK (try CMD)")
    if not args:
        raise _Invalid("Missing command after HEALTHCHECK CMD")
    test = ["CMD", *args] if req.node.json else ["CMD-SHELL", " ".join(args)]
    command = HealthcheckCommand(test=test, interval=_interval(interval),
                                 timeout=_interval(timeout),
                                 start_period=_interval(start_period),
                                 start_interval=_interval(start_interval),
                                 **req.base())
    if retries_flag.value:
        try:
            retries = parse_go_int32(retries_flag.value)
        except ValueError as exc:
            raise _Invalid(str(exc)) from None
        if retries < 0:
            raise _Invalid(f"--retries cannot be negative ({retries})")
        command.retries = retries
    return command


def _parse_expose(req: _Request) -> Command:
    if not req.args:
        raise _at_least_one("EXPOSE")
    req.parse_flags()
    return ExposeCommand(ports=sorted(req.args), **req.base())


def _parse_user(req: _Request) -> Command:
    if len(req.args) != 1:
        raise _exactly_one("USER")
    req.parse_flags()
    return UserCommand(user=req.args[0], **req.base())


def _parse_volume(req: _Request) -> Command:
    if not req.args:
        raise _at_least_one("VOLUME")
    req.parse_flags()
    volumes = [volume.strip() for volume in req.args]
    if "" in volumes:
        raise _Invalid("VOLUME specified can not be an empty string")
    return VolumeCommand(volumes=volumes, **req.base())


def _parse_stopsignal(req: _Request) -> Command:
    if len(req.args) != 1:
        raise _exactly_one("STOPSIGNAL")
    return StopSignalCommand(signal=req.args[0], **req.base())


def _parse_arg(req: _Request) -> Command:
    if not req.args:
        raise _at_least_one("ARG")
    pairs: list[tuple[str, str | None]] = []
    for arg in req.args:
        if "=" in arg:
            key, value = arg.split("=", 1)
            if not key:
                raise _Invalid("ARG names can not be blank")
            pairs.append((key, value))
        else:
            pairs.append((arg, None))
    return ArgCommand(args=pairs, **req.base())


def _parse_shell(req: _Request) -> Command:
    req.parse_flags()
    if not req.args:
        raise _at_least_one("SHELL")
    if not req.node.json:
        raise _Invalid("SHELL requires the arguments to be in JSON form")
    return ShellCommand(shell=list(req.args), **req.base())


_PARSERS: dict[str, Callable[[_Request], Command]] = {
    "add": _parse_add, "arg": _parse_arg, "cmd": _parse_cmd, "copy": _parse_copy,
    "entrypoint": _parse_entrypoint, "env": _parse_env, "expose": _parse_expose,
    "from": _parse_from, "healthcheck": _parse_healthcheck, "label": _parse_label,
    "maintainer": _parse_maintainer, "onbuild": _parse_onbuild, "run": _parse_run,
    "shell": _parse_shell, "stopsignal": _parse_stopsignal, "user": _parse_user,
    "volume": _parse_volume, "workdir": _parse_workdir,
}


def parse_instruction(node: Node) -> Command:
    """One parser node to its typed instruction (FROM gives a FromCommand). Raises
    DockerfileSyntaxError naming the node's lines."""
    parser = _PARSERS.get(node.value.lower())
    try:
        if parser is None:
            keyword = node.keyword or node.value
            raise _Invalid(suggest(f"unknown instruction: {keyword}", keyword,
                                   [k.upper() for k in _KEYWORDS], case_sensitive=False))
        return parser(_Request(node))
    except _Invalid as exc:
        raise DockerfileSyntaxError(str(exc), line=node.start_line,
                                    end_line=node.end_line) from None


def parse_stages(parsed: Parsed) -> tuple[list[Stage], list[ArgCommand]]:
    """The build stages of a parsed Dockerfile and the ARGs before its first FROM."""
    stages: list[Stage] = []
    meta_args: list[ArgCommand] = []
    for node in parsed.nodes:
        command = parse_instruction(node)
        if isinstance(command, FromCommand):
            stages.append(Stage(name=command.stage_name, base=command.base,
                                platform=command.platform, commands=[],
                                line=command.line, original=command.original,
                                end_line=command.end_line))
        elif stages:
            stages[-1].commands.append(command)
        elif isinstance(command, ArgCommand):
            meta_args.append(command)
        else:
            raise DockerfileSyntaxError("no build stage in current context",
                                        line=node.start_line, end_line=node.end_line)
    return stages, meta_args
