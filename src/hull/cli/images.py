"""Image commands: images/image ls, image inspect, rmi/image rm, tag, history, image prune,
image bootstrap."""

from __future__ import annotations

import json
import sys

from hull.engine import humanize

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any


def _service(args: argparse.Namespace) -> Any:
    from hull.engine.images import ImageService
    return ImageService(args.root)


def table(rows: list[list[str]], out: Any = None) -> None:
    """Columns padded like docker's tabwriter (three spaces between)."""
    out = out or sys.stdout
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        out.write("   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n")


def cmd_images(args: argparse.Namespace) -> int:
    dangling = None
    for f in args.filter or []:
        key, _, value = f.partition("=")
        if key != "dangling" or value not in ("true", "false"):
            from hull.errors import InvalidArgument
            raise InvalidArgument(f"invalid filter {f!r} (supported: dangling=true|false)")
        dangling = value == "true"
    rows = _service(args).rows(dangling=dangling)
    if args.quiet:
        seen = []
        for r in rows:
            ident = r["ID"] if args.no_trunc else r["ID"].split(":", 1)[1][:12]
            if ident not in seen:
                seen.append(ident)
        print("\n".join(seen))
        return 0
    head = ["REPOSITORY", "TAG"] + (["DIGEST"] if args.digests else []) + \
        ["IMAGE ID", "CREATED", "SIZE"]
    body = [[r["Repository"], r["Tag"]] + ([r["Digest"]] if args.digests else []) +
            [r["ID"] if args.no_trunc else r["ID"].split(":", 1)[1][:12],
             humanize.ago(r["Created"]) if r["Created"] else "N/A", humanize.size(r["Size"])]
            for r in rows]
    table([head, *body])
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    return inspect_each(args.names, [_service(args).inspect], "image", args.format)


def inspect_each(names: list[str], lookups: list[Any], noun: str, fmt: str | None) -> int:
    """Each name through the lookups in order (the first that knows it wins); Docker's
    "No such …" for the rest, exit 1 if any was missing."""
    from hull.errors import NotFound
    found, code = [], 0
    for name in names:
        for lookup in lookups:
            try:
                found.append(lookup(name))
                break
            except NotFound:
                continue
        else:
            print(f"Error: No such {noun}: {name}", file=sys.stderr)
            code = 1
    print_objects(found, fmt)
    return code


def print_objects(found: list[dict[str, Any]], fmt: str | None) -> None:
    """inspect's output: Docker's indented JSON array, or one --format line per object."""
    if fmt:
        from hull.cli.template import render
        for obj in found:
            print(render(fmt, obj))
    else:
        print(json.dumps(found, indent=4))


def cmd_rmi(args: argparse.Namespace) -> int:
    service = _service(args)
    code = 0
    for name in args.names:
        try:
            for line in service.remove(name, force=args.force):
                print(line)
        except Exception as e:
            from hull.errors import HullError
            if not isinstance(e, HullError):
                raise
            print(f"Error response from daemon: {e}", file=sys.stderr)
            code = 1
    return code


def cmd_tag(args: argparse.Namespace) -> int:
    _service(args).tag(args.source, args.target)
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    rows = _service(args).history(args.image)
    if args.quiet:
        for r in rows:
            print(r["ID"] if args.no_trunc or r["ID"] == "<missing>" else
                  r["ID"].split(":", 1)[1][:12])
        return 0
    body = [[r["ID"] if args.no_trunc or r["ID"] == "<missing>" else
             r["ID"].split(":", 1)[1][:12],
             humanize.ago(r["Created"]) if r["Created"] else "N/A",
             r["CreatedBy"] if args.no_trunc else _trunc(r["CreatedBy"], 45),
             humanize.size(r["Size"]), r["Comment"]] for r in rows]
    table([["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"], *body])
    return 0


def _trunc(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def cmd_prune(args: argparse.Namespace) -> int:
    if not args.force:
        kind = "all images without at least one container associated to them" if args.all \
            else "all dangling images"
        sys.stdout.write(f"WARNING! This will remove {kind}.\nAre you sure you want to "
                         "continue? [y/N] ")
        sys.stdout.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    deleted, reclaimed = _service(args).prune(all_images=args.all)
    if deleted:
        print("Deleted Images:")
        for image_id in deleted:
            print(f"deleted: {image_id}")
        print()
    print(f"Total reclaimed space: {humanize.size(reclaimed)}")
    return 0


def cmd_save(args: argparse.Namespace) -> int:
    from hull.errors import InvalidArgument
    if not args.output and sys.stdout.isatty():
        raise InvalidArgument("cowardly refusing to save to a terminal. Use the -o flag or "
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


def cmd_load(args: argparse.Namespace) -> int:
    progress = None
    if sys.stdout.isatty() and not args.quiet:
        from hull.cli.bars import Bars
        progress = Bars()
    if args.input:
        with open(args.input, "rb") as src:
            lines = _service(args).load(src, progress)
    else:
        lines = _service(args).load(sys.stdin.buffer, progress)
    for line in lines:
        print(line)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    service = _service(args)
    if args.file == "-":
        image = service.import_tarball(sys.stdin.buffer, args.name, args.message,
                                       args.change or [])
    else:
        with open(args.file, "rb") as src:
            image = service.import_tarball(src, args.name, args.message, args.change or [])
    print(image.id)
    return 0


def cmd_system_df(args: argparse.Namespace) -> int:
    rows = _service(args).disk_usage()
    body = [[r["Type"], str(r["Total"]), str(r["Active"]), humanize.size(r["Size"]),
             humanize.size(r["Reclaimable"]) + (f" ({100 * r['Reclaimable'] // r['Size']}%)"
                                                if r["Size"] else "")] for r in rows]
    table([["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"], *body])
    return 0


def cmd_system_prune(args: argparse.Namespace) -> int:
    if not args.force:
        sys.stdout.write("WARNING! This will remove:\n  - all stopped containers\n  - all "
                         f"{'unused' if args.all else 'dangling'} images\nAre you sure you "
                         "want to continue? [y/N] ")
        sys.stdout.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    from hull.engine.containers import ContainerService
    removed = ContainerService(args.root).prune()
    if removed:
        print("Deleted Containers:\n" + "\n".join(removed) + "\n")
    service = _service(args)
    in_use = {c.image for c in ContainerService(args.root).containers(all_=True)}
    deleted, reclaimed = service.prune(all_images=args.all, keep=in_use)
    if deleted:
        print("Deleted Images:\n" + "\n".join(f"deleted: {i}" for i in deleted) + "\n")
    print(f"Total reclaimed space: {humanize.size(reclaimed)}")
    return 0


def cmd_bootstrap(args: argparse.Namespace) -> int:
    image = _service(args).bootstrap(args.name)
    print(f"{args.name}: built in from Debian's busybox-static ({image.id})")
    return 0


def register(sub: Any) -> None:
    def images_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("-q", "--quiet", action="store_true")
        p.add_argument("--digests", action="store_true")
        p.add_argument("--no-trunc", action="store_true")
        p.add_argument("-a", "--all", action="store_true")
        p.add_argument("-f", "--filter", action="append")
        p.add_argument("repository", nargs="?")
        p.set_defaults(run=cmd_images)

    def inspect_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("-f", "--format")
        p.add_argument("names", nargs="+", metavar="IMAGE")
        p.set_defaults(run=cmd_inspect)

    def rmi_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("-f", "--force", action="store_true")
        p.add_argument("--no-prune", action="store_true")
        p.add_argument("names", nargs="+", metavar="IMAGE")
        p.set_defaults(run=cmd_rmi)

    def tag_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("source")
        p.add_argument("target")
        p.set_defaults(run=cmd_tag)

    def history_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("-q", "--quiet", action="store_true")
        p.add_argument("--no-trunc", action="store_true")
        p.add_argument("-H", "--human", action="store_true", default=True)
        p.add_argument("image")
        p.set_defaults(run=cmd_history)

    def save_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("-o", "--output")
        p.add_argument("--format", default="docker-archive",
                       choices=["docker-archive", "oci-archive"])
        p.add_argument("names", nargs="+", metavar="IMAGE")
        p.set_defaults(run=cmd_save)

    def load_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("-i", "--input")
        p.add_argument("-q", "--quiet", action="store_true")
        p.set_defaults(run=cmd_load)

    def import_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("-c", "--change", action="append")
        p.add_argument("-m", "--message", default="")
        p.add_argument("--platform")
        p.add_argument("file")
        p.add_argument("name", nargs="?")
        p.set_defaults(run=cmd_import)

    images_flags(sub.add_parser("images", help="list images"))
    save_flags(sub.add_parser("save", help="write images to a tar archive"))
    load_flags(sub.add_parser("load", help="load images from a tar archive"))
    import_flags(sub.add_parser("import", help="make an image from a filesystem tarball"))
    system = sub.add_parser("system", help="manage hull")
    ssub = system.add_subparsers(dest="system_command", metavar="COMMAND",
                                 parser_class=type(system))
    ssub.add_parser("df", help="show disk usage").set_defaults(run=cmd_system_df)
    sprune = ssub.add_parser("prune", help="remove stopped containers and unused images")
    sprune.add_argument("-a", "--all", action="store_true")
    sprune.add_argument("-f", "--force", action="store_true")
    sprune.set_defaults(run=cmd_system_prune)
    from hull.cli import observe
    observe.register_system(ssub)
    rmi_flags(sub.add_parser("rmi", help="remove images"))
    tag_flags(sub.add_parser("tag", help="tag an image"))
    history_flags(sub.add_parser("history", help="show an image's history"))
    image = sub.add_parser("image", help="manage images")
    isub = image.add_subparsers(dest="image_command", metavar="COMMAND",
                                parser_class=type(image))
    images_flags(isub.add_parser("ls", aliases=["list"], help="list images"))
    inspect_flags(isub.add_parser("inspect", help="show image details"))
    rmi_flags(isub.add_parser("rm", aliases=["remove"], help="remove images"))
    tag_flags(isub.add_parser("tag", help="tag an image"))
    history_flags(isub.add_parser("history", help="show an image's history"))
    save_flags(isub.add_parser("save", help="write images to a tar archive"))
    load_flags(isub.add_parser("load", help="load images from a tar archive"))
    import_flags(isub.add_parser("import", help="make an image from a filesystem tarball"))
    prune = isub.add_parser("prune", help="remove unused images")
    prune.add_argument("-a", "--all", action="store_true")
    prune.add_argument("-f", "--force", action="store_true")
    prune.set_defaults(run=cmd_prune)
    from hull.cli import registry
    pull = isub.add_parser("pull", help="download an image from a registry")
    pull.add_argument("-q", "--quiet", action="store_true")
    pull.add_argument("--platform")
    pull.add_argument("name")
    pull.set_defaults(run=registry.cmd_pull)
    push = isub.add_parser("push", help="upload an image to a registry")
    push.add_argument("-q", "--quiet", action="store_true")
    push.add_argument("name")
    push.set_defaults(run=registry.cmd_push)
    boot = isub.add_parser("bootstrap", help="build the built-in busybox image from "
                           "Debian's busybox-static")
    boot.add_argument("name", nargs="?", default="busybox:latest")
    boot.set_defaults(run=cmd_bootstrap)
