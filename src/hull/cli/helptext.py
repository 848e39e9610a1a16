"""`--help` laid out as the docker command lays it out: a "Usage:  hull ps [OPTIONS]" line,
the description, the subcommands, then "Options:" with each flag's short and long forms,
its value type and what it does."""

from __future__ import annotations

import argparse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable


class DockerHelpFormatter(argparse.HelpFormatter):
    def __init__(self, prog: str) -> None:
        # wide enough that the longest flag ("--health-start-period string") keeps its
        # description on its own line, as Docker aligns them after the longest
        super().__init__(prog, max_help_position=40, width=120)

    def _format_usage(self, usage: str | None, actions: Iterable[argparse.Action],
                      groups: Iterable[argparse._MutuallyExclusiveGroup],
                      prefix: str | None) -> str:
        if prefix == "":   # argparse asking for the prog of a subcommand's parser
            return self._prog
        if usage:
            return "Usage:  " + usage % {"prog": self._prog} + "\n\n"
        actions = list(actions)
        words = [self._prog]
        if any(a.option_strings for a in actions):
            words.append("[OPTIONS]")
        for a in actions:
            if a.option_strings:
                continue
            if isinstance(a, argparse._SubParsersAction):
                words.append("COMMAND")
                continue
            name = (a.metavar if isinstance(a.metavar, str) else a.dest).upper()
            words.append({None: name, "?": f"[{name}]", "*": f"[{name}...]",
                          "+": f"{name} [{name}...]", "...": f"[{name}] [ARG...]"}
                         .get(a.nargs if isinstance(a.nargs, str) or a.nargs is None
                              else None, name))
        return "Usage:  " + " ".join(words) + "\n\n"

    def _format_action_invocation(self, action: argparse.Action) -> str:
        if not action.option_strings:
            return super()._format_action_invocation(action)
        shorts = [o for o in action.option_strings if not o.startswith("--")]
        longs = [o for o in action.option_strings if o.startswith("--")]
        text = ", ".join(shorts[:1] + longs[:1]) if shorts else "    " + ", ".join(longs[:1])
        if action.nargs != 0:
            kind = "int" if action.type is int else "list" if isinstance(
                action, argparse._AppendAction) else "string"
            text += f" {kind}"
        return text

    def start_section(self, heading: str | None) -> None:
        names = {"options": "Options", "positional arguments": "Commands"}
        super().start_section(names.get(heading or "", heading))

    def add_arguments(self, actions: Iterable[argparse.Action]) -> None:
        """Positional arguments are in the usage line; only subcommands get a list; the
        help flag goes without saying, as in Docker's help."""
        super().add_arguments([a for a in actions if (a.option_strings or isinstance(
            a, argparse._SubParsersAction)) and not isinstance(a, argparse._HelpAction)])

    def _format_action(self, action: argparse.Action) -> str:
        if isinstance(action, argparse._SubParsersAction):
            return "".join(self._format_action(sub) for sub in action._get_subactions())
        return super()._format_action(action)
