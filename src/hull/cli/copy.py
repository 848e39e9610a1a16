"""`hull cp`: see hull.engine.copy for the rules and why the copy is safe."""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any


def cmd_cp(args: argparse.Namespace) -> int:
    from hull.engine import copy
    from hull.engine.containers import ContainerService
    copy.run(ContainerService(args.root), args.source, args.destination,
             archive=args.archive, follow=args.follow_link, stdin=sys.stdin.buffer,
             stdout=sys.stdout.buffer)
    return 0


def register(sub: Any) -> None:
    cp = sub.add_parser("cp", help="Copy files/folders between a container and the local "
                        "filesystem",
                        description="hull cp [-a] [-L] CONTAINER:SRC DEST|-  or  "
                        "hull cp [-a] [-L] SRC|- CONTAINER:DEST")
    cp.add_argument("-a", "--archive", action="store_true",
                    help="Archive mode (copy all uid/gid information)")
    cp.add_argument("-L", "--follow-link", action="store_true",
                    help="Always follow symbol link in SRC_PATH")
    cp.add_argument("-q", "--quiet", action="store_true",
                    help="Suppress progress output during copy (hull prints none)")
    cp.add_argument("source")
    cp.add_argument("destination")
    cp.set_defaults(run=cmd_cp)
