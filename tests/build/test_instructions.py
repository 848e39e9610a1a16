"""Typed instructions: the cases of BuildKit's instructions/parse_test.go,
parse_heredoc_test.go and bflag_test.go, plus one check per instruction type and the
stage split."""

from __future__ import annotations

import pytest

from hull.build.errors import DockerfileSyntaxError
from hull.build.frontend import instructions as ins
from hull.build.frontend.instructions_flags import (
    BFlags,
    FlagError,
    parse_go_duration,
    suggest,
)
from hull.build.frontend.parser import Heredoc, Node, parse


def _cmd(text: str) -> ins.Command:
    return ins.parse_instruction(parse(text).nodes[0])


def _error(text: str) -> DockerfileSyntaxError:
    with pytest.raises(DockerfileSyntaxError) as info:
        _cmd(text)
    return info.value


def _node(value: str, args: list[str], original: str = "") -> Node:
    return Node(value=value, next=args, json=False, flags=[], heredocs=[],
                original=original, start_line=7, end_line=7)


# --- BuildKit's error table --------------------------------------------------------------

@pytest.mark.parametrize("keyword", ["MAINTAINER", "WORKDIR", "USER", "STOPSIGNAL"])
def test_exactly_one_argument(keyword: str) -> None:
    assert _error(keyword).message == f"{keyword} requires exactly one argument"


@pytest.mark.parametrize("keyword", ["ENV", "LABEL", "ONBUILD", "HEALTHCHECK", "EXPOSE",
                                     "VOLUME", "ARG", "SHELL"])
def test_at_least_one_argument(keyword: str) -> None:
    assert _error(keyword).message == f"{keyword} requires at least one argument"


@pytest.mark.parametrize("keyword", ["ADD", "COPY"])
def test_no_destination(keyword: str) -> None:
    assert _error(f"{keyword} arg1").message == (
        f"{keyword} requires at least two arguments, but only one was provided. "
        "Destination could not be determined")


@pytest.mark.parametrize("keyword", ["ENV", "LABEL"])
def test_too_many_arguments(keyword: str) -> None:
    node = _node(keyword.lower(), ["arg1", "arg2", "arg3", ""], keyword + "arg1 arg2 arg3")
    with pytest.raises(DockerfileSyntaxError) as info:
        ins.parse_instruction(node)
    assert info.value.message == f"Bad input to {keyword}, too many arguments"
    assert info.value.line == 7


@pytest.mark.parametrize("keyword", ["ENV", "LABEL"])
def test_blank_names(keyword: str) -> None:
    node = _node(keyword.lower(), ["", "arg2", "="], keyword + " =arg2")
    with pytest.raises(DockerfileSyntaxError, match=f"{keyword} names can not be blank"):
        ins.parse_instruction(node)
    assert _error(f"{keyword} =x").message == f"{keyword} names can not be blank"


def test_healthcheck_from_hand_built_node() -> None:
    cmd = ins.parse_instruction(_node("healthcheck", ["CMD", "hello", "world"]))
    assert isinstance(cmd, ins.HealthcheckCommand)
    assert cmd.test == ["CMD-SHELL", "hello world"]


@pytest.mark.parametrize(("text", "message"), [
    ("COPY\t\n\t\tquux \\\n      bar", "COPY requires at least two arguments"),
    ("ONBUILD FROM scratch", "FROM isn't allowed as an ONBUILD trigger"),
    ("ONBUILD maintainer me", "MAINTAINER isn't allowed as an ONBUILD trigger"),
    ("MAINTAINER --boo joe@example.com", "unknown flag: --boo"),
    ("ONBUILD ONBUILD RUN touch foobar", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
    ("FOO bar", "unknown instruction: FOO"),
    ("foo bar", "unknown instruction: foo"),
    ("FORM alpine", "unknown instruction: FORM (did you mean FROM?)"),
    ("from alpine AS 1st", 'invalid name for build stage: "1st", name can\'t start with a '
                           "number or contain symbols"),
    ("FROM a b", "FROM requires either one or three arguments"),
    ("FROM a AS", "FROM requires either one or three arguments"),
    ("FROM a FOR b", "FROM requires either one or three arguments"),
    ("FROM --plattform=x a", "unknown flag: --plattform (did you mean platform?)"),
    ("COPY /foo <<EOF\nEOF", "COPY cannot accept a heredoc as a destination"),
    ("COPY --keep-git-dir a b", "unknown flag: --keep-git-dir"),
    ("ADD --from=x a b", "unknown flag: --from"),
    ("COPY --link=maybe a b", "expecting boolean value for flag --link, not: maybe"),
    ("COPY --link= a b", "missing a value on flag: --link"),
    ("COPY --chown a b", "missing a value on flag: --chown"),
    ("COPY --chown=a --chown=b a b", "duplicate flag specified: --chown"),
    ("RUN --network=bridge true", 'invalid network mode "bridge"'),
    ("RUN --security=loose true", 'security "loose" is not valid'),
    ("RUN --mount true", "missing a value on flag: --mount"),
    ("SHELL /bin/sh -c", "SHELL requires the arguments to be in JSON form"),
    ("SHELL []", "SHELL requires at least one argument"),
    ("VOLUME [\"\"]", "VOLUME specified can not be an empty string"),
    ("ARG =x", "ARG names can not be blank"),
    ("HEALTHCHECK NONE x", "HEALTHCHECK NONE takes no arguments"),
    ("HEALTHCHECK CMD", "Missing command after HEALTHCHECK CMD"),
    ("HEALTHCHECK CONNECT TCP 7000", 'Unknown type "CONNECT" in HEALTHCHECK (try CMD)'),
    ("HEALTHCHECK --interval=50ns CMD a", 'Interval "interval" cannot be less than 1ms'),
    ("HEALTHCHECK --timeout=-1s CMD a", 'Interval "timeout" cannot be less than 1ms'),
    ("HEALTHCHECK --interval=5 CMD a", 'time: missing unit in duration "5"'),
    ("HEALTHCHECK --interval=5d CMD a", 'time: unknown unit "d" in duration "5d"'),
    ("HEALTHCHECK --retries=-1 CMD a", "--retries cannot be negative (-1)"),
    ("HEALTHCHECK --retries=x CMD a", 'strconv.ParseInt: parsing "x": invalid syntax'),
    ("HEALTHCHECK --retriez=1 CMD a", "unknown flag: --retriez (did you mean retries?)"),
    ("ENV --x a=b", "unknown flag: --x"),
])
def test_error_cases(text: str, message: str) -> None:
    assert message in _error(text).message


def test_errors_name_the_line() -> None:
    with pytest.raises(DockerfileSyntaxError) as info:
        ins.parse_stages(parse("FROM a\n\nRUN x\nCOPY \\\n --bad a \\\n b\n"))
    assert (info.value.line, info.value.end_line) == (4, 6)
    assert str(info.value) == "dockerfile parse error on line 4: unknown flag: --bad"


# --- one of each -------------------------------------------------------------------------

def test_from() -> None:
    cmd = _cmd("FROM --platform=$BUILDPLATFORM golang:1.22 As Build")
    assert cmd == ins.FromCommand(
        base="golang:1.22", stage_name="build", platform="$BUILDPLATFORM", name="FROM",
        line=1, end_line=1, original="FROM --platform=$BUILDPLATFORM golang:1.22 As Build")
    assert _cmd("from scratch") == ins.FromCommand(base="scratch", name="FROM", line=1,
                                                   end_line=1, original="from scratch")


def test_run_forms_and_flags() -> None:
    cmd = _cmd("RUN --mount=type=tmpfs,target=/foo/ echo hello")
    assert isinstance(cmd, ins.RunCommand)
    assert cmd.flags_used == ["mount"]
    assert (cmd.args, cmd.prepend_shell, cmd.mounts) == (
        ["echo hello"], True, ["type=tmpfs,target=/foo/"])
    assert (cmd.network, cmd.security) == ("default", "sandbox")
    cmd = _cmd('RUN --network=none --security=insecure --mount=a --mount=b ["ls", "/"]')
    assert isinstance(cmd, ins.RunCommand)
    assert (cmd.args, cmd.prepend_shell) == (["ls", "/"], False)
    assert (cmd.network, cmd.security, cmd.mounts) == ("none", "insecure", ["a", "b"])
    assert sorted(cmd.flags_used) == ["mount", "network", "security"]
    cmd = _cmd("RUN --device=/dev/fuse true")
    assert isinstance(cmd, ins.RunCommand)
    assert cmd.devices == ["/dev/fuse"]


@pytest.mark.parametrize(("text", "shell", "args", "files"), [
    ('RUN ["ls", "/"]', False, ["ls", "/"], []),
    ('RUN ["<<EOF"]', False, ["<<EOF"], []),
    ("RUN ls /", True, ["ls /"], []),
    ("RUN <<EOF\nls /\nwhoami\nEOF", True, ["<<EOF"],
     [Heredoc("EOF", "ls /\nwhoami\n", True, False)]),
    ("RUN <<'EOF' | python\nprint(\"hello\")\nprint(\"world\")\nEOF", True,
     ["<<'EOF' | python"], [Heredoc("EOF", 'print("hello")\nprint("world")\n', False, False)]),
    ("RUN <<-EOF\n\techo test\nEOF", True, ["<<-EOF"],
     [Heredoc("EOF", "echo test\n", True, True)]),
    ("RUN <<A <<B\na\nA\nb\nB", True, ["<<A <<B"],
     [Heredoc("A", "a\n", True, False), Heredoc("B", "b\n", True, False)]),
])
def test_run_heredocs(text: str, shell: bool, args: list[str], files: list[Heredoc]) -> None:
    cmd = _cmd(text)
    assert isinstance(cmd, ins.RunCommand)
    assert (cmd.prepend_shell, cmd.args, cmd.heredocs) == (shell, args, files)


@pytest.mark.parametrize(("text", "sources", "dest", "inline"), [
    ("COPY /foo /bar", ["/foo"], "/bar", []),
    ("COPY <<EOF /bar\nEOF", [], "/bar", [Heredoc("EOF", "", True, False)]),
    ("COPY <<EOF /bar\nTESTING\nEOF", [], "/bar", [Heredoc("EOF", "TESTING\n", True, False)]),
    ("COPY <<-EOF /bar\n\tTESTING\nEOF", [], "/bar",
     [Heredoc("EOF", "TESTING\n", True, True)]),
    ("COPY <<'EOF' /bar\nTESTING\nEOF", [], "/bar",
     [Heredoc("EOF", "TESTING\n", False, False)]),
    ("COPY <<EOF1 <<EOF2 /bar\nthis is the first file\nEOF1\nthis is the second file\nEOF2",
     [], "/bar", [Heredoc("EOF1", "this is the first file\n", True, False),
                  Heredoc("EOF2", "this is the second file\n", True, False)]),
    ("COPY <<EOF foo.txt /bar\nthis is inline\nEOF", ["foo.txt"], "/bar",
     [Heredoc("EOF", "this is inline\n", True, False)]),
    ('COPY <<EOF /quotes\n"quotes"\nEOF', [], "/quotes",
     [Heredoc("EOF", '"quotes"\n', True, False)]),
    ('COPY ["a b", "c", "/d/"]', ["a b", "c"], "/d/", []),
])
def test_copy_sources(text: str, sources: list[str], dest: str, inline: list[Heredoc]) -> None:
    cmd = _cmd(text)
    assert isinstance(cmd, ins.CopyCommand)
    assert (cmd.sources, cmd.dest, cmd.heredocs, cmd.is_add) == (sources, dest, inline, False)


def test_copy_and_add_flags() -> None:
    cmd = _cmd("COPY --from=build --chown=1:2 --chmod=755 --link --parents --exclude=*.md "
               "--exclude=x a b /c")
    assert isinstance(cmd, ins.CopyCommand)
    assert (cmd.name, cmd.from_, cmd.chown, cmd.chmod, cmd.link, cmd.parents) == (
        "COPY", "build", "1:2", "755", True, True)
    assert (cmd.excludes, cmd.sources, cmd.dest) == (["*.md", "x"], ["a", "b"], "/c")
    cmd = _cmd("ADD --keep-git-dir=true --checksum=sha256:abc --unpack=False --link=false "
               "https://x/y.tgz /z")
    assert isinstance(cmd, ins.CopyCommand)
    assert (cmd.name, cmd.is_add, cmd.keep_git_dir, cmd.checksum, cmd.unpack, cmd.link) == (
        "ADD", True, True, "sha256:abc", "false", False)
    cmd = _cmd("ADD a b")
    assert isinstance(cmd, ins.CopyCommand)
    assert (cmd.unpack, cmd.keep_git_dir, cmd.from_) == ("", False, "")


def test_env_label_arg() -> None:
    cmd = _cmd('ENV a=1 b="x y" c=\\$d')
    assert isinstance(cmd, ins.EnvCommand)
    assert (cmd.pairs, cmd.legacy) == ([("a", "1"), ("b", '"x y"'), ("c", "\\$d")], False)
    cmd = _cmd("ENV PATH /usr/bin:$PATH  more")
    assert isinstance(cmd, ins.EnvCommand)
    assert (cmd.pairs, cmd.legacy) == ([("PATH", "/usr/bin:$PATH  more")], True)
    cmd = _cmd('LABEL "com.example.vendor"="ACME" version=1.0')
    assert isinstance(cmd, ins.LabelCommand)
    assert cmd.pairs == [('"com.example.vendor"', '"ACME"'), ("version", "1.0")]
    cmd = _cmd("ARG a b= c=d=e")
    assert isinstance(cmd, ins.ArgCommand)
    assert cmd.args == [("a", None), ("b", ""), ("c", "d=e")]


def test_simple_commands() -> None:
    assert _cmd("EXPOSE 8080 80/udp 443") == ins.ExposeCommand(
        ports=["443", "80/udp", "8080"], name="EXPOSE", line=1, end_line=1,
        original="EXPOSE 8080 80/udp 443")
    volume = _cmd('VOLUME ["/a", " /b "]')
    assert isinstance(volume, ins.VolumeCommand)
    assert volume.volumes == ["/a", "/b"]
    volume = _cmd("VOLUME /a /b")
    assert isinstance(volume, ins.VolumeCommand)
    assert volume.volumes == ["/a", "/b"]
    user = _cmd("USER app:app")
    assert isinstance(user, ins.UserCommand)
    assert user.user == "app:app"
    workdir = _cmd("WORKDIR /src dir")
    assert isinstance(workdir, ins.WorkdirCommand)
    assert workdir.path == "/src dir"
    shell = _cmd('SHELL ["powershell", "-command"]')
    assert isinstance(shell, ins.ShellCommand)
    assert shell.shell == ["powershell", "-command"]
    signal = _cmd("STOPSIGNAL SIGTERM")
    assert isinstance(signal, ins.StopSignalCommand)
    assert signal.signal == "SIGTERM"
    maintainer = _cmd("MAINTAINER Jane <j@example.com>")
    assert isinstance(maintainer, ins.MaintainerCommand)
    assert maintainer.maintainer == "Jane <j@example.com>"


def test_cmd_and_entrypoint() -> None:
    cmd = _cmd("CMD echo hi")
    assert isinstance(cmd, ins.CmdCommand)
    assert (cmd.args, cmd.prepend_shell) == (["echo hi"], True)
    cmd = _cmd('CMD ["a", "b"]')
    assert isinstance(cmd, ins.CmdCommand)
    assert (cmd.args, cmd.prepend_shell) == (["a", "b"], False)
    entry = _cmd("ENTRYPOINT []")
    assert isinstance(entry, ins.EntrypointCommand)
    assert (entry.args, entry.prepend_shell) == ([], False)
    entry = _cmd("ENTRYPOINT exec nginx -g 'daemon off;'")
    assert isinstance(entry, ins.EntrypointCommand)
    assert entry.args == ["exec nginx -g 'daemon off;'"]


def test_healthcheck() -> None:
    check = _cmd("HEALTHCHECK --interval=5s --timeout=1m30s --start-period=0.5s "
                 "--start-interval=250ms --retries=3 \\\n  CMD /app/check.sh --quiet")
    assert check == ins.HealthcheckCommand(
        test=["CMD-SHELL", "/app/check.sh --quiet"], interval=5_000_000_000,
        timeout=90_000_000_000, start_period=500_000_000, start_interval=250_000_000,
        retries=3, name="HEALTHCHECK", line=1, end_line=2,
        original="HEALTHCHECK --interval=5s --timeout=1m30s --start-period=0.5s "
                 "--start-interval=250ms --retries=3   CMD /app/check.sh --quiet")
    check = _cmd('healthcheck --timeout=0s cmd ["curl", "-f", "http://x/"]')
    assert isinstance(check, ins.HealthcheckCommand)
    assert (check.test, check.timeout) == (["CMD", "curl", "-f", "http://x/"], 0)
    check = _cmd("HEALTHCHECK none")
    assert isinstance(check, ins.HealthcheckCommand)
    assert check.test == ["NONE"]


def test_onbuild() -> None:
    onbuild = _cmd("ONBUILD RUN --mount=type=cache,target=/c make")
    assert isinstance(onbuild, ins.OnbuildCommand)
    assert onbuild.expression == "RUN --mount=type=cache,target=/c make"
    onbuild = _cmd("  onbuild   COPY <<EOF /x\nhello\nEOF\n")
    assert isinstance(onbuild, ins.OnbuildCommand)
    assert onbuild.expression == "COPY <<EOF /x\nhello\nEOF"
    assert (onbuild.line, onbuild.end_line) == (1, 3)
    # the expression parses back into the trigger, heredoc and all
    trigger = parse(onbuild.expression).nodes[0]
    copy = ins.parse_instruction(trigger)
    assert isinstance(copy, ins.CopyCommand)
    assert copy.heredocs == [Heredoc("EOF", "hello\n", True, False)]


def test_onbuild_keeps_heredoc_bodies_as_written() -> None:
    onbuild = _cmd("ONBUILD RUN <<-EOF\n\techo $X\n\tEOF\n")
    assert isinstance(onbuild, ins.OnbuildCommand)
    assert onbuild.expression == "RUN <<-EOF\n\techo $X\nEOF"
    run = ins.parse_instruction(parse(onbuild.expression).nodes[0])
    assert isinstance(run, ins.RunCommand)
    assert run.heredocs == [Heredoc("EOF", "echo $X\n", True, True)]
    assert run.heredocs[0].written == "\techo $X\n"


def test_flags_buildkit_never_reads() -> None:
    # BuildKit ignores flags on ARG, STOPSIGNAL and HEALTHCHECK NONE; so do we
    arg = _cmd("ARG --whatever=1 a")
    assert isinstance(arg, ins.ArgCommand)
    assert arg.args == [("a", None)]
    signal = _cmd("STOPSIGNAL --x SIGKILL")
    assert isinstance(signal, ins.StopSignalCommand)
    assert signal.signal == "SIGKILL"
    check = _cmd("HEALTHCHECK --interval=1s NONE")
    assert isinstance(check, ins.HealthcheckCommand)
    assert (check.test, check.interval) == (["NONE"], 0)


# --- stages ------------------------------------------------------------------------------

def test_parse_stages() -> None:
    parsed = parse("ARG BASE=alpine\nARG V\nFROM $BASE AS Base\nARG V\nRUN a\n"
                   "FROM --platform=linux/arm64 base\nCOPY --from=base /x /y\n")
    stages, meta = ins.parse_stages(parsed)
    assert [a.args for a in meta] == [[("BASE", "alpine")], [("V", None)]]
    assert [(s.name, s.base, s.platform, s.line) for s in stages] == [
        ("base", "$BASE", "", 3), ("", "base", "linux/arm64", 6)]
    assert [type(c).__name__ for c in stages[0].commands] == ["ArgCommand", "RunCommand"]
    assert stages[0].original == "FROM $BASE AS Base"
    assert [c.line for c in stages[1].commands] == [7]


def test_instruction_before_from() -> None:
    with pytest.raises(DockerfileSyntaxError, match="no build stage in current context") as info:
        ins.parse_stages(parse("ARG A\n\nRUN x\nFROM a\n"))
    assert info.value.line == 3


# --- flags and Go values -----------------------------------------------------------------

def test_bflags() -> None:
    flags = BFlags([])
    flags.parse()
    BFlags(["--"]).parse()

    flags = BFlags([])
    s1, b1 = flags.add_string("str1", "HI"), flags.add_bool("bool1")
    flags.parse()
    assert (s1.value, b1.is_true, s1.used, b1.used) == ("HI", False, False, False)

    flags = BFlags(["--str1"])
    flags.add_string("str1", "HI")
    with pytest.raises(FlagError):
        flags.parse()

    for arg, value in (("--str1=", ""), ("--str1=BYE", "BYE")):
        flags = BFlags([arg])
        s1 = flags.add_string("str1", "HI")
        flags.parse()
        assert s1.value == value

    for arg, value in (("--bool1", True), ("--bool1=true", True), ("--bool1=TRUE", True),
                       ("--bool1=false", False)):
        flags = BFlags([arg])
        b1 = flags.add_bool("bool1")
        flags.parse()
        assert b1.is_true is value

    for args in (["--bool1=false1"], ["--bool2"], ["-x"]):
        flags = BFlags(args)
        flags.add_bool("bool1")
        with pytest.raises(FlagError):
            flags.parse()

    flags = BFlags(["--bool1", "--str1=BYE"])
    s1, b1 = flags.add_string("str1", "HI"), flags.add_bool("bool1")
    flags.parse()
    assert (s1.value, b1.is_true) == ("BYE", True)

    flags = BFlags(["--bool2=false", "--bool3", "--bool4=true", "--bool5", "--str2= ",
                    "--str3=def3", "--str4=my-val", "--", "--bool1"])
    for name, default in (("bool1", False), ("bool2", False), ("bool3", False),
                          ("bool4", True), ("bool5", True)):
        flags.add_bool(name, default)
    for name, text in (("str1", ""), ("str2", ""), ("str3", "def3"), ("str4", "def4")):
        flags.add_string(name, text)
    flags.parse()
    assert flags.used() == ["bool2", "bool3", "bool4", "bool5", "str2", "str3", "str4"]

    flags = BFlags(["--m=a", "--m=b"])
    many = flags.add_strings("m")
    flags.parse()
    assert many.values == ["a", "b"]


@pytest.mark.parametrize(("text", "nanoseconds"), [
    ("0", 0), ("5s", 5 * 10**9), ("1h2m3s", 3723 * 10**9), ("1.5h", 5400 * 10**9),
    ("300ms", 300 * 10**6), ("-1.5m", -90 * 10**9), ("1us", 1000), ("1µs", 1000),
    ("2ns", 2), (".5s", 5 * 10**8), ("1.s", 10**9), ("+0ms", 0),
])
def test_go_durations(text: str, nanoseconds: int) -> None:
    assert parse_go_duration(text) == nanoseconds


@pytest.mark.parametrize("text", ["", "s", "1", ".s", "1d", "1.2.3s", "--1s", "1s2"])
def test_bad_go_durations(text: str) -> None:
    with pytest.raises(ValueError, match="time: "):
        parse_go_duration(text)


def test_suggestions() -> None:
    assert suggest("e", "form", ["FROM", "RUN"], False) == "e (did you mean from?)"
    assert suggest("e", "Form", ["FROM"], False) == "e (did you mean from?)"
    assert suggest("e", "xyzzy", ["FROM"], False) == "e"
    assert suggest("e", "from", ["FROM"], False) == "e"
    assert suggest("e", "lnk", ["link", "chown"], True) == "e (did you mean link?)"
