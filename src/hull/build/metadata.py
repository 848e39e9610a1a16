"""The instructions that change only the image's config — ENV, ARG, LABEL, EXPOSE, VOLUME,
USER, SHELL, HEALTHCHECK, ONBUILD, STOPSIGNAL, ENTRYPOINT, CMD, MAINTAINER (and WORKDIR's
config half) — with BuildKit's expansion rules: ENV, ARG defaults, LABEL, EXPOSE, VOLUME,
USER, WORKDIR and STOPSIGNAL expand variables; CMD, ENTRYPOINT, SHELL, HEALTHCHECK and
ONBUILD keep them for the shell or the later build. Each makes an empty_layer history entry
whose created_by is what BuildKit writes."""

from __future__ import annotations

import json
import posixpath

from hull.build.errors import BuildError
from hull.build.frontend import instructions as ins

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hull.build.frontend.shell import Lexer
    from hull.build.state import State


class Expander:
    """Expands values against a state's variables, remembering the ARGs it used."""

    def __init__(self, lexer: Lexer) -> None:
        self.lexer = lexer

    def word(self, state: State, text: str, where: ins.Command) -> str:
        try:
            return self.lexer.process_word(text, state.env())
        except BuildError as e:
            raise BuildError(e.message, where.line) from None

    def words(self, state: State, text: str, where: ins.Command) -> list[str]:
        try:
            return self.lexer.process_words(text, state.env())
        except BuildError as e:
            raise BuildError(e.message, where.line) from None


def _shell_form(args: list[str], prepend_shell: bool, state: State) -> list[str]:
    return [*state.shell(), " ".join(args)] if prepend_shell else list(args)


def apply(cmd: ins.Command, state: State, x: Expander, build_args: dict[str, str],
          meta_args: dict[str, str | None]) -> None:
    """Apply one metadata instruction to state."""
    if isinstance(cmd, ins.EnvCommand):
        pairs = [(x.word(state, k, cmd), x.word(state, v, cmd)) for k, v in cmd.pairs]
        for k, v in pairs:
            state.set_env(k, v)
        text = " ".join(f"{k}={v}" for k, v in pairs)
        state.metadata(f"ENV {text}", f"ENV {text}")
    elif isinstance(cmd, ins.ArgCommand):
        shown = []
        for name, default in cmd.args:
            value: str | None
            if name in build_args:
                value = build_args[name]
            elif default is not None:
                value = x.word(state, default, cmd)
            else:
                value = meta_args.get(name) if name in meta_args else None
            state.args[name] = value
            shown.append(f"{name}={default}" if default is not None else name)
        state.metadata("ARG " + " ".join(shown), "ARG " + " ".join(
            f"{k}={state.args[k]}" if state.args[k] is not None else k for k, _ in cmd.args))
    elif isinstance(cmd, ins.LabelCommand):
        labels = dict(state.config.get("Labels") or {})
        pairs = [(x.word(state, k, cmd), x.word(state, v, cmd)) for k, v in cmd.pairs]
        labels.update(pairs)
        state.config["Labels"] = labels
        text = " ".join(f"{k}={v}" for k, v in pairs)
        state.metadata(f"LABEL {text}", f"LABEL {text}")
    elif isinstance(cmd, ins.ExposeCommand):
        ports = dict(state.config.get("ExposedPorts") or {})
        words = [w for p in cmd.ports for w in x.words(state, p, cmd)]
        for port in words:
            for key in _port_keys(port, cmd.line):
                ports[key] = {}
        state.config["ExposedPorts"] = ports
        text = " ".join(words)
        state.metadata(f"EXPOSE map[{' '.join(k + ':{}' for k in sorted(ports))}]",
                       f"EXPOSE {text}")
    elif isinstance(cmd, ins.VolumeCommand):
        vols = dict(state.config.get("Volumes") or {})
        paths = [x.word(state, v, cmd) for v in cmd.volumes]
        for path in paths:
            if not path.strip():
                raise BuildError("VOLUME specified can not be an empty string", cmd.line)
            vols[path] = {}
        state.config["Volumes"] = vols
        state.metadata(f"VOLUME [{' '.join(paths)}]", f"VOLUME {json.dumps(paths)}")
    elif isinstance(cmd, ins.UserCommand):
        state.config["User"] = x.word(state, cmd.user, cmd)
        state.metadata(f"USER {state.config['User']}", f"USER {state.config['User']}")
    elif isinstance(cmd, ins.ShellCommand):
        state.config["Shell"] = list(cmd.shell)
        state.metadata(f"SHELL [{' '.join(cmd.shell)}]", f"SHELL {json.dumps(cmd.shell)}")
    elif isinstance(cmd, ins.StopSignalCommand):
        signal = x.word(state, cmd.signal, cmd)
        _check_signal(signal, cmd.line)
        state.config["StopSignal"] = signal
        state.metadata(f"STOPSIGNAL {signal}", f"STOPSIGNAL {signal}")
    elif isinstance(cmd, ins.MaintainerCommand):
        state.metadata(f"MAINTAINER {cmd.maintainer}", f"MAINTAINER {cmd.maintainer}")
        state.author = cmd.maintainer
    elif isinstance(cmd, ins.CmdCommand):
        state.config["Cmd"] = _shell_form(cmd.args, cmd.prepend_shell, state)
        state.cmd_set = True
        state.metadata(f"CMD {_go_quoted(state.config['Cmd'])}",
                       f"CMD {json.dumps(state.config['Cmd'])}")
    elif isinstance(cmd, ins.EntrypointCommand):
        state.config["Entrypoint"] = _shell_form(cmd.args, cmd.prepend_shell, state)
        if not state.cmd_set:   # an inherited CMD made no sense with the old entrypoint
            state.config["Cmd"] = None
        state.metadata(f"ENTRYPOINT {_go_quoted(state.config['Entrypoint'])}",
                       f"ENTRYPOINT {json.dumps(state.config['Entrypoint'])}")
    elif isinstance(cmd, ins.HealthcheckCommand):
        check: dict[str, object] = {"Test": list(cmd.test)}
        for field_name, amount in (("Interval", cmd.interval), ("Timeout", cmd.timeout),
                                   ("StartPeriod", cmd.start_period),
                                   ("StartInterval", cmd.start_interval),
                                   ("Retries", cmd.retries)):
            if amount:
                check[field_name] = amount
        state.config["Healthcheck"] = check
        test_text = json.dumps(cmd.test)
        state.metadata(f"HEALTHCHECK &{{{test_text} ...}}",
                       f"HEALTHCHECK {json.dumps(check)}")
    elif isinstance(cmd, ins.OnbuildCommand):
        state.config["OnBuild"] = [*(state.config.get("OnBuild") or []), cmd.expression]
        state.metadata(f"ONBUILD {cmd.expression}", f"ONBUILD {cmd.expression}")
    else:
        raise BuildError(f"{cmd.name} is not a metadata instruction", cmd.line)


def _check_signal(name: str, line: int) -> None:
    """STOPSIGNAL: a number or a signal's name (SIGTERM, TERM, RTMIN+3), as Docker checks."""
    import signal
    if name.isdigit():
        return
    bare = name.upper().removeprefix("SIG")
    if bare.startswith(("RTMIN", "RTMAX")) or hasattr(signal, "SIG" + bare):
        return
    raise BuildError(f"invalid signal: {name}", line)


def _go_quoted(words: list[str]) -> str:
    """A list as BuildKit's history prints it (Go's %q of a []string): ["a" "b c"]."""
    return "[" + " ".join(json.dumps(w, ensure_ascii=False) for w in words) + "]"


def _port_keys(port: str, line: int) -> list[str]:
    """EXPOSE 80, 53/udp, 8000-8001: one key per port, a range expanded (Docker's
    nat.ParsePortSpecs)."""
    number, _, proto = port.partition("/")
    low, dash, high = number.partition("-")
    if not low.isdigit() or (dash and not high.isdigit()):
        raise BuildError(f"invalid containerPort: {number}", line)
    first, last = int(low), int(high) if dash else int(low)
    if last < first or last > 65535:
        raise BuildError(f"invalid range specified for container port: {number}", line)
    return [f"{n}/{(proto or 'tcp').lower()}" for n in range(first, last + 1)]


def workdir_path(state: State, cmd: ins.WorkdirCommand, x: Expander) -> str:
    """WORKDIR's new directory: relative to the current one, cleaned."""
    path = x.word(state, cmd.path, cmd)
    if not path:
        raise BuildError("WORKDIR requires exactly one argument", cmd.line)
    current = state.config.get("WorkingDir") or "/"
    return posixpath.normpath(posixpath.join(current, path))


def run_created_by(state: State, args: list[str], used_args: dict[str, str]) -> str:
    """RUN's history line as BuildKit writes it: `RUN |2 A=1 B=2 /bin/sh -c cmd # buildkit`
    when build-args were in scope (their values are part of what ran)."""
    prefix = ""
    if used_args:
        prefix = f"|{len(used_args)} " + " ".join(f"{k}={v}" for k, v in used_args.items()) \
            + " "
    return f"RUN {prefix}{' '.join(args)} # buildkit"

