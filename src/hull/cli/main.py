"""`hull`: the engine's command line. The engine (images, containers) lands with its own
issues; until then this front door says so plainly instead of pretending."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help", "help"):
        print("usage: hull COMMAND [ARGS...]\n\n"
              "hull is a daemonless, Docker-compatible container engine.\n"
              "Available now: version. The OCI runtime is `hull-runtime` (runc-compatible).")
        return 0
    if args[0] in ("version", "--version", "-v"):
        from hull import __version__
        print(f"hull version {__version__}")
        return 0
    print(f"hull: '{args[0]}' is not a hull command yet. See 'hull --help'.", file=sys.stderr)
    return 125
