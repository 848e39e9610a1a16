"""The typed Dockerfile instructions (BuildKit's `instructions` package as dataclasses).

Every value is kept as written — quotes, `$VAR` references and escapes included —
because expansion needs the build args and the environment of the stage so far, which
only the builder knows. In particular the ENV/LABEL/ARG values of the `k="x y"` form
still carry their quotes: the builder runs each key and value through the shell lexer,
which expands and unquotes them in one pass, exactly as BuildKit's dispatcher does.

`Command` carries what every instruction has: its keyword (upper case), the first and
last Dockerfile line it spans (heredoc bodies included) and its source text (trimmed).
Its fields are keyword-only so each subclass can list its own fields first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hull.build.frontend.parser import Heredoc


@dataclass(kw_only=True)
class Command:
    """What every instruction has: keyword, lines and source text."""

    name: str = ""
    line: int = 0
    end_line: int = 0
    original: str = ""


@dataclass
class FromCommand(Command):
    """`FROM [--platform=p] image [AS name]`; `stage_name` is lower-cased ("" when
    unnamed), `base` the image or stage reference as written."""

    base: str = ""
    stage_name: str = ""
    platform: str = ""


@dataclass
class RunCommand(Command):
    """`RUN cmd` (shell form: `args` is the one command line, `prepend_shell` True) or
    `RUN ["exe", "arg"]` (exec form). `heredocs` are the bodies announced by `<<WORD`
    markers in the shell form; `mounts` the raw `--mount` values (the builder parses
    them, as their `${VAR}`s expand first); `network` is default|none|host and
    `security` sandbox|insecure."""

    args: list[str] = field(default_factory=list)
    prepend_shell: bool = True
    heredocs: list[Heredoc] = field(default_factory=list)
    mounts: list[str] = field(default_factory=list)
    network: str = "default"
    security: str = "sandbox"
    devices: list[str] = field(default_factory=list)
    flags_used: list[str] = field(default_factory=list)


@dataclass
class CopyCommand(Command):
    """COPY and ADD (`is_add`): `sources` are the paths/URLs as written, `heredocs` the
    inline files given as `<<WORD` sources (named after WORD), `dest` the destination.

    `from_` is COPY-only; `keep_git_dir`, `checksum` and `unpack` are ADD-only.
    `unpack` is "" when not given (ADD then decides by the source), else
    "true"/"false"."""

    sources: list[str] = field(default_factory=list)
    dest: str = ""
    heredocs: list[Heredoc] = field(default_factory=list)
    from_: str = ""
    chown: str = ""
    chmod: str = ""
    link: bool = False
    excludes: list[str] = field(default_factory=list)
    parents: bool = False
    is_add: bool = False
    keep_git_dir: bool = False
    checksum: str = ""
    unpack: str = ""


@dataclass
class EnvCommand(Command):
    """`ENV k=v k2="x y"` or the legacy `ENV k the rest of the line` (`legacy` True),
    pairs in order, raw."""

    pairs: list[tuple[str, str]] = field(default_factory=list)
    legacy: bool = False


@dataclass
class ArgCommand(Command):
    """`ARG name[=default] …`: the default is None when not given (an empty default,
    `ARG x=`, is "")."""

    args: list[tuple[str, str | None]] = field(default_factory=list)


@dataclass
class LabelCommand(Command):
    """`LABEL k=v …` (or the legacy `LABEL k v`), pairs in order, raw."""

    pairs: list[tuple[str, str]] = field(default_factory=list)
    legacy: bool = False


@dataclass
class ExposeCommand(Command):
    """`EXPOSE 80 443/tcp`: the ports, sorted as BuildKit sorts them."""

    ports: list[str] = field(default_factory=list)


@dataclass
class VolumeCommand(Command):
    """`VOLUME /a /b` or `VOLUME ["/a"]`: the paths, trimmed."""

    volumes: list[str] = field(default_factory=list)


@dataclass
class UserCommand(Command):
    user: str = ""


@dataclass
class WorkdirCommand(Command):
    path: str = ""


@dataclass
class ShellCommand(Command):
    """`SHELL ["exe", "-c"]` (the JSON form only)."""

    shell: list[str] = field(default_factory=list)


@dataclass
class StopSignalCommand(Command):
    signal: str = ""


@dataclass
class MaintainerCommand(Command):
    maintainer: str = ""


@dataclass
class CmdCommand(Command):
    """`CMD cmd` (shell form, one string) or `CMD ["exe", …]`."""

    args: list[str] = field(default_factory=list)
    prepend_shell: bool = True


@dataclass
class EntrypointCommand(Command):
    """`ENTRYPOINT cmd` (shell form, one string) or `ENTRYPOINT ["exe", …]`."""

    args: list[str] = field(default_factory=list)
    prepend_shell: bool = True


@dataclass
class HealthcheckCommand(Command):
    """`HEALTHCHECK NONE` (test ["NONE"]) or `HEALTHCHECK [flags] CMD …` (test
    ["CMD-SHELL", line] or ["CMD", exe, …]); durations in nanoseconds, 0 = not set."""

    test: list[str] = field(default_factory=list)
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0


@dataclass
class OnbuildCommand(Command):
    """`ONBUILD <instruction>`: the trigger's source text (heredoc bodies appended),
    parsed again when an image built FROM this one is built."""

    expression: str = ""


@dataclass
class Stage:
    """A build stage: the FROM that opens it and the instructions up to the next FROM."""

    name: str
    base: str
    platform: str
    commands: list[Command]
    line: int
    original: str
    end_line: int = 0
