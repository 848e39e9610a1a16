"""`hull volume create|ls|inspect|rm|prune`."""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any


def _services(args: argparse.Namespace) -> Any:
    from hull.engine.containers import ContainerService
    return ContainerService(args.root)


def cmd_create(args: argparse.Namespace) -> int:
    labels = dict(item.partition("=")[::2] for item in args.label or [])
    meta, _ = _services(args).volumes.create(args.name or "", labels=labels)
    print(meta["Name"])
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    from hull.cli.images import table
    volumes = _services(args).volumes.all()
    if args.quiet:
        for v in volumes:
            print(v["Name"])
    elif args.format:
        from hull.cli.template import render
        for v in volumes:
            print(render(args.format, v))
    else:
        table([["DRIVER", "VOLUME NAME"]] + [[v["Driver"], v["Name"]] for v in volumes])
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from hull.cli.images import inspect_each
    return inspect_each(args.names, [_services(args).volumes.inspect], "volume", args.format)


def cmd_rm(args: argparse.Namespace) -> int:
    from hull.errors import HullError
    service = _services(args)
    code = 0
    for name in args.names:
        try:
            users = [] if args.force else service.volume_users(name)
            service.volumes.remove(name, users)
            print(name)
        except HullError as e:
            print(f"Error response from daemon: {e}" if e.exit_code != 1 else f"Error: {e}",
                  file=sys.stderr)
            code = 1
    return code


def cmd_prune(args: argparse.Namespace) -> int:
    """Unused anonymous volumes (named ones too with -a), as docker volume prune does."""
    from hull.engine.volumes import ANONYMOUS
    service = _services(args)
    if not args.force and sys.stdin.isatty():
        answer = input("WARNING! This will remove anonymous local volumes not used by at "
                       "least one container.\nAre you sure you want to continue? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            return 0
    removed = []
    for v in service.volumes.all():
        if (args.all or ANONYMOUS in (v.get("Labels") or {})) and \
                not service.volume_users(v["Name"]):
            service.volumes.remove(v["Name"], [])
            removed.append(v["Name"])
    if removed:
        print("Deleted Volumes:\n" + "\n".join(removed) + "\n")
    print(f"Total reclaimed space: {len(removed)} volumes")
    return 0


def register(sub: Any) -> None:
    volume = sub.add_parser("volume", help="manage volumes")
    vsub = volume.add_subparsers(dest="volume_command", metavar="COMMAND",
                                 parser_class=type(volume))
    create = vsub.add_parser("create", help="create a volume")
    create.add_argument("-d", "--driver", choices=["local"], default="local")
    create.add_argument("--label", action="append")
    create.add_argument("name", nargs="?")
    create.set_defaults(run=cmd_create)
    ls = vsub.add_parser("ls", aliases=["list"], help="list volumes")
    ls.add_argument("-q", "--quiet", action="store_true")
    ls.add_argument("--format")
    ls.set_defaults(run=cmd_ls)
    inspect = vsub.add_parser("inspect", help="show volume details")
    inspect.add_argument("-f", "--format")
    inspect.add_argument("names", nargs="+", metavar="VOLUME")
    inspect.set_defaults(run=cmd_inspect)
    rm = vsub.add_parser("rm", aliases=["remove"], help="remove volumes")
    rm.add_argument("-f", "--force", action="store_true")
    rm.add_argument("names", nargs="+", metavar="VOLUME")
    rm.set_defaults(run=cmd_rm)
    prune = vsub.add_parser("prune", help="remove unused volumes")
    prune.add_argument("-a", "--all", action="store_true")
    prune.add_argument("-f", "--force", action="store_true")
    prune.set_defaults(run=cmd_prune)
