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
    from hull.engine.filters import Filters
    from hull.engine.volumes import VOLUME_LS_FILTERS, listed
    service = _services(args)
    volumes = listed(service.volumes, service.volume_users,
                     Filters(args.filter, VOLUME_LS_FILTERS))
    if args.quiet:
        for v in volumes:
            print(v["Name"])
        return 0
    from hull.cli.template import print_rows
    rows = [{"Driver": v["Driver"], "Name": v["Name"], "Mountpoint": v["Mountpoint"],
             "Scope": v.get("Scope", "local"), "Labels": ",".join(
                 f"{k}={val}" for k, val in sorted((v.get("Labels") or {}).items())),
             "CreatedAt": v.get("CreatedAt", ""), "Size": "N/A", "Links": "N/A"}
            for v in volumes]
    fmt = args.format or "table {{.Driver}}\t{{.Name}}"
    print_rows(fmt, rows, {"Driver": "DRIVER", "Name": "VOLUME NAME", "Mountpoint":
                           "MOUNTPOINT", "Scope": "SCOPE", "Labels": "LABELS", "CreatedAt":
                           "CREATED", "Size": "SIZE", "Links": "LINKS"})
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    """Each volume in turn; one a container uses is refused even with -f (which, as in
    Docker, only makes a missing volume no error)."""
    from hull.errors import HullError, NotFound
    service = _services(args)
    code = 0
    for name in args.names:
        try:
            service.volumes.remove(name, service.volume_users(name))
            print(name)
        except NotFound as e:
            if args.force:
                print(name)
                continue
            print(f"Error response from daemon: {e}", file=sys.stderr)
            code = 1
        except HullError as e:
            print(f"Error response from daemon: {e}", file=sys.stderr)
            code = 1
    return code


def cmd_prune(args: argparse.Namespace) -> int:
    """Unused anonymous volumes (named ones too with -a), as docker volume prune does."""
    from hull.cli.common import confirm
    from hull.engine.filters import Filters
    from hull.engine.volumes import VOLUME_PRUNE_FILTERS
    filters = Filters(args.filter, VOLUME_PRUNE_FILTERS)
    if not args.force:
        what = "all local volumes" if args.all else "anonymous local volumes"
        if not confirm(f"WARNING! This will remove {what} not used by at least one "
                       "container."):
            return 0
    removed, space = prune_volumes(_services(args), args.all, filters)
    if removed:
        print("Deleted Volumes:\n" + "\n".join(removed) + "\n")
    from hull.engine import humanize
    print(f"Total reclaimed space: {humanize.size(space, 4)}")
    return 0


def prune_volumes(service: Any, all_: bool, filters: Any = None) -> tuple[list[str], int]:
    from hull.engine.volumes import prune
    removed: tuple[list[str], int] = prune(service.volumes, service.volume_users, all_,
                                           filters)
    return removed


def register(sub: Any) -> None:
    volume = sub.add_parser("volume", help="Manage volumes")
    vsub = volume.add_subparsers(dest="volume_command", metavar="COMMAND",
                                 parser_class=type(volume))
    create = vsub.add_parser("create", help="Create a volume")
    create.add_argument("-d", "--driver", choices=["local"], default="local",
                        help='Specify volume driver name (default "local")')
    create.add_argument("--label", action="append", help="Set metadata for a volume")
    create.add_argument("name", nargs="?")
    create.set_defaults(run=cmd_create)
    ls = vsub.add_parser("ls", aliases=["list"], help="List volumes")
    ls.add_argument("-q", "--quiet", action="store_true", help="Only display volume names")
    ls.add_argument("--format", help="Format output using a custom template: 'table', "
                    "'table TEMPLATE', 'json', or a Go template")
    ls.add_argument("-f", "--filter", action="append",
                    help='Provide filter values (e.g. "dangling=true")')
    ls.set_defaults(run=cmd_ls)
    from hull.cli import inspect
    inspect.register(vsub, "volume")
    rm = vsub.add_parser("rm", aliases=["remove"], help="Remove one or more volumes")
    rm.add_argument("-f", "--force", action="store_true",
                    help="Force the removal of one or more volumes")
    rm.add_argument("names", nargs="+", metavar="VOLUME")
    rm.set_defaults(run=cmd_rm)
    prune = vsub.add_parser("prune", help="Remove unused local volumes")
    prune.add_argument("-a", "--all", action="store_true",
                       help="Remove all unused volumes, not just anonymous ones")
    prune.add_argument("-f", "--force", action="store_true",
                       help="Do not prompt for confirmation")
    prune.add_argument("--filter", action="append",
                       help='Provide filter values (e.g. "label=<label>")')
    prune.set_defaults(run=cmd_prune)
