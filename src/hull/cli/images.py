"""Image commands: images/image ls, image inspect, rmi/image rm, tag, history, image prune,
image bootstrap."""

from __future__ import annotations

import sys

from hull.engine import humanize

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any


def _service(args: argparse.Namespace) -> Any:
    from hull.engine.images import ImageService
    return ImageService(args.root)


IMAGE_HEADERS = {"Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
                 "ID": "IMAGE ID", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
                 "Size": "SIZE", "Containers": "CONTAINERS", "VirtualSize": "VIRTUAL SIZE",
                 "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE"}


def cmd_images(args: argparse.Namespace) -> int:
    """`docker images [REPOSITORY[:TAG]]`: Docker's default table, -q, --digests,
    --format (Go template, table, json), filters."""
    from hull.cli.ps import created_at
    from hull.cli.template import Struct, print_rows
    from hull.engine.filters import Filters
    from hull.engine.images import LIST_FILTERS
    items = list(args.filter or [])
    if args.repository:
        items.append(f"reference={args.repository}")
    rows = _service(args).rows(Filters(items, LIST_FILTERS))
    fmt = args.format or ""
    if args.quiet:
        fmt = "{{.ID}}"
    elif fmt in ("", "table"):
        fmt = "table {{.Repository}}\t{{.Tag}}\t" + ("{{.Digest}}\t" if args.digests else "") \
            + "{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    elif fmt == "json":
        fmt = "{{json .}}"
    trunc = not args.no_trunc
    contexts = []
    seen: set[str] = set()
    for r in rows:
        ident = r["ID"].split(":", 1)[1][:12] if trunc else r["ID"]
        if args.quiet:
            if ident in seen:
                continue   # one line per image, however many names it has
            seen.add(ident)
        contexts.append(Struct({
            "Containers": "N/A", "CreatedAt": created_at(r["Created"]),
            "CreatedSince": humanize.ago(r["Created"]) if r["Created"] else "N/A",
            "Digest": r["Digest"], "ID": ident, "Repository": r["Repository"],
            "SharedSize": "N/A", "Size": humanize.size(r["Size"]), "Tag": r["Tag"],
            "UniqueSize": "N/A", "VirtualSize": humanize.size(r["Size"])},
            type_name="*formatter.imageContext", json_sorted=True))
    print_rows(fmt, contexts, IMAGE_HEADERS)
    return 0


def cmd_rmi(args: argparse.Namespace) -> int:
    """Each image in turn; with -f a missing one is no failure (Docker's `rmi -f` exits 0
    so that clean-up scripts under `set -e` go on)."""
    from hull.errors import HullError, NotFound
    service = _service(args)
    code = 0
    for name in args.names:
        try:
            for line in service.remove(name, force=args.force):
                print(line)
        except HullError as e:
            print(f"Error response from daemon: {e}", file=sys.stderr)
            if not (args.force and isinstance(e, NotFound)):
                code = 1
    return code


def cmd_tag(args: argparse.Namespace) -> int:
    from hull.errors import ClientError, InvalidArgument
    from hull.image.reference import parse
    try:
        parse(args.target)
    except InvalidArgument as e:
        raise ClientError(f'Error parsing reference: "{args.target}" is not a valid '
                          f"repository/tag: {e}") from None
    _service(args).tag(args.source, args.target)
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    """`docker history`: newest layer first; -H=false prints times and sizes raw."""
    import time

    from hull.cli.ps import created_at
    from hull.cli.template import Struct, print_rows
    human = args.human.lstrip("=") not in ("false", "0")   # -H=false, --human=false
    fmt = args.format or ""
    if args.quiet:
        fmt = "{{.ID}}"
    elif fmt in ("", "table"):
        fmt = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
    elif fmt == "json":
        fmt = "{{json .}}"
    rows = []
    for r in _service(args).history(args.image):
        ident = r["ID"] if args.no_trunc or r["ID"] == "<missing>" else \
            r["ID"].split(":", 1)[1][:12]
        when = r["Created"]
        since = (humanize.ago(when) if when else "N/A") if human else \
            time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(when))
        rows.append(Struct({
            "Comment": r["Comment"], "CreatedAt": created_at(when) if human else since,
            "CreatedBy": r["CreatedBy"] if args.no_trunc else _trunc(r["CreatedBy"], 45),
            "CreatedSince": since, "ID": ident,
            "Size": humanize.size(r["Size"]) if human else str(r["Size"])},
            type_name="*formatter.historyContext", json_sorted=True))
    print_rows(fmt, rows, {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt":
                           "CREATED AT", "CreatedBy": "CREATED BY", "Size": "SIZE",
                           "Comment": "COMMENT"})
    return 0


def _trunc(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def cmd_prune(args: argparse.Namespace) -> int:
    from hull.engine.filters import Filters
    from hull.engine.images import PRUNE_FILTERS
    filters = Filters(args.filter, PRUNE_FILTERS)   # a bad filter fails before the prompt
    if not args.force:
        from hull.cli.common import confirm
        kind = "all images without at least one container associated to them" if args.all \
            else "all dangling images"
        if not confirm(f"WARNING! This will remove {kind}."):
            return 0
    lines, reclaimed = _service(args).prune(all_images=args.all, filters=filters)
    if lines:
        print("Deleted Images:\n" + "\n".join(lines) + "\n")
    print(f"Total reclaimed space: {humanize.size(reclaimed, 4)}")
    return 0


def cmd_save(args: argparse.Namespace) -> int:
    from hull.errors import ClientError
    if not args.output and sys.stdout.isatty():
        raise ClientError("cowardly refusing to save to a terminal. Use the -o flag or "
                              "redirect")
    if args.output:
        tmp = args.output + ".tmp"
        with open(tmp, "wb") as out:
            _service(args).save(args.names, out, args.format)
        import os
        os.replace(tmp, args.output)
    else:
        _service(args).save(args.names, sys.stdout.buffer, args.format)
        sys.stdout.flush()
    return 0


def _open_input(path: str) -> Any:
    """A file the command reads, refused as the docker command refuses it (exit 1)."""
    from hull.errors import ClientError
    try:
        return open(path, "rb")
    except OSError as e:
        raise ClientError(f"open {path}: {(e.strerror or str(e)).lower()}") from None


def cmd_load(args: argparse.Namespace) -> int:
    progress = None
    if sys.stdout.isatty() and not args.quiet:
        from hull.cli.bars import Bars
        progress = Bars()
    import tarfile

    from hull.engine.copy import tar_error
    from hull.errors import ClientError
    try:
        if args.input:
            with _open_input(args.input) as src:
                lines = _service(args).load(src, progress)
        else:
            lines = _service(args).load(sys.stdin.buffer, progress)
    except (tarfile.TarError, EOFError) as e:
        raise ClientError(tar_error(e)) from None
    for line in lines:
        print(line)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    service = _service(args)
    if args.file == "-":
        image = service.import_tarball(sys.stdin.buffer, args.name, args.message,
                                       args.change or [])
    else:
        with _open_input(args.file) as src:
            image = service.import_tarball(src, args.name, args.message, args.change or [])
    print(image.id)
    return 0


def cmd_bootstrap(args: argparse.Namespace) -> int:
    image = _service(args).bootstrap(args.name)
    print(f"{args.name}: built in from Debian's busybox-static ({image.id})")
    return 0


def register(sub: Any) -> None:
    def images_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("-a", "--all", action="store_true",
                       help="Show all images (default hides intermediate images)")
        p.add_argument("--digests", action="store_true", help="Show digests")
        p.add_argument("-f", "--filter", action="append",
                       help="Filter output based on conditions provided")
        p.add_argument("--format", help="Format output using a custom template: 'table', "
                       "'table TEMPLATE', 'json', or a Go template")
        p.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
        p.add_argument("-q", "--quiet", action="store_true", help="Only show image IDs")
        p.add_argument("repository", nargs="?", metavar="REPOSITORY[:TAG]")
        p.set_defaults(run=cmd_images)

    def rmi_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("-f", "--force", action="store_true",
                       help="Force removal of the image")
        p.add_argument("--no-prune", action="store_true",
                       help="Do not delete untagged parents")
        p.add_argument("names", nargs="+", metavar="IMAGE")
        p.set_defaults(run=cmd_rmi)

    def tag_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("source")
        p.add_argument("target")
        p.set_defaults(run=cmd_tag)

    def history_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("--format", help="Format output using a custom template: 'table', "
                       "'table TEMPLATE', 'json', or a Go template")
        p.add_argument("-H", "--human", nargs="?", const="true", default="true",
                       help="Print sizes and dates in human readable format (default true)")
        p.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
        p.add_argument("-q", "--quiet", action="store_true", help="Only show image IDs")
        p.add_argument("image")
        p.set_defaults(run=cmd_history)

    def save_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("-o", "--output", help="Write to a file, instead of STDOUT")
        p.add_argument("--format", default="docker-archive",
                       choices=["docker-archive", "oci-archive"],
                       help='Archive format: "docker-archive" (manifest.json, as docker save '
                       'writes) or "oci-archive" (an OCI image layout) (default '
                       '"docker-archive")')
        p.add_argument("names", nargs="+", metavar="IMAGE")
        p.set_defaults(run=cmd_save)

    def load_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("-i", "--input", help="Read from tar archive file, instead of STDIN")
        p.add_argument("-q", "--quiet", action="store_true", help="Suppress the load output")
        p.set_defaults(run=cmd_load)

    def import_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("-c", "--change", action="append",
                       help="Apply Dockerfile instruction to the created image")
        p.add_argument("-m", "--message", default="",
                       help="Set commit message for imported image")
        p.add_argument("--platform", help="Set platform if server is multi-platform capable")
        p.add_argument("file")
        p.add_argument("name", nargs="?")
        p.set_defaults(run=cmd_import)

    images_flags(sub.add_parser("images", help="List images"))
    save_flags(sub.add_parser("save", help="Save one or more images to a tar archive "
                              "(streamed to STDOUT by default)"))
    load_flags(sub.add_parser("load", help="Load an image from a tar archive or STDIN"))
    import_flags(sub.add_parser("import", help="Import the contents from a tarball to create "
                                "a filesystem image"))
    rmi_flags(sub.add_parser("rmi", help="Remove one or more images"))
    tag_flags(sub.add_parser("tag", help="Create a tag TARGET_IMAGE that refers to "
                             "SOURCE_IMAGE"))
    history_flags(sub.add_parser("history", help="Show the history of an image"))
    image = sub.add_parser("image", help="Manage images")
    isub = image.add_subparsers(dest="image_command", metavar="COMMAND",
                                parser_class=type(image))
    images_flags(isub.add_parser("ls", aliases=["list"], help="List images"))
    from hull.cli import inspect
    inspect.register(isub, "image")
    rmi_flags(isub.add_parser("rm", aliases=["remove"], help="Remove one or more images"))
    tag_flags(isub.add_parser("tag", help="Create a tag TARGET_IMAGE that refers to "
                              "SOURCE_IMAGE"))
    history_flags(isub.add_parser("history", help="Show the history of an image"))
    from hull.cli import build
    build.flags(isub.add_parser("build", help="Build an image from a Dockerfile"))
    save_flags(isub.add_parser("save", help="Save one or more images to a tar archive "
                               "(streamed to STDOUT by default)"))
    load_flags(isub.add_parser("load", help="Load an image from a tar archive or STDIN"))
    import_flags(isub.add_parser("import", help="Import the contents from a tarball to "
                                 "create a filesystem image"))
    prune = isub.add_parser("prune", help="Remove unused images")
    prune.add_argument("-a", "--all", action="store_true",
                       help="Remove all unused images, not just dangling ones")
    prune.add_argument("-f", "--force", action="store_true",
                       help="Do not prompt for confirmation")
    prune.add_argument("--filter", action="append",
                       help='Provide filter values (e.g. "until=<timestamp>")')
    prune.set_defaults(run=cmd_prune)
    from hull.cli import registry
    pull = isub.add_parser("pull", help="Download an image from a registry")
    pull.add_argument("-q", "--quiet", action="store_true", help="Suppress verbose output")
    pull.add_argument("--platform", help="Set platform if server is multi-platform capable")
    pull.add_argument("name")
    pull.set_defaults(run=registry.cmd_pull)
    push = isub.add_parser("push", help="Upload an image to a registry")
    push.add_argument("-q", "--quiet", action="store_true", help="Suppress verbose output")
    push.add_argument("name")
    push.set_defaults(run=registry.cmd_push)
    boot = isub.add_parser("bootstrap", help="Build the built-in busybox image from "
                           "Debian's busybox-static")
    boot.add_argument("name", nargs="?", default="busybox:latest")
    boot.set_defaults(run=cmd_bootstrap)
