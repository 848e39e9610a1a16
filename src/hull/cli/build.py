"""`hull build` (also `image build`, `builder build`) and `builder prune`: docker build's
flags turned into BuildOptions, the context (a directory, a tar or a Dockerfile on stdin),
the progress view (plain lines like BuildKit's, or a live view on a terminal), errors shown
with the Dockerfile lines around them, and --output/--iidfile/-q."""

from __future__ import annotations

import argparse
import os
import sys

from hull.errors import ClientError, InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hull.build.errors import BuildError
    from hull.build.options import BuildOptions


def register(sub: Any) -> None:
    build = sub.add_parser("build", help="Build an image from a Dockerfile")
    flags(build)
    builder = sub.add_parser("builder", help="Manage builds")
    bsub = builder.add_subparsers(dest="builder_command", metavar="COMMAND",
                                  parser_class=type(builder))
    flags(bsub.add_parser("build", help="Build an image from a Dockerfile"))
    prune = bsub.add_parser("prune", help="Remove build cache")
    prune.add_argument("-a", "--all", action="store_true",
                       help="Remove all unused build cache, not just dangling ones")
    prune.add_argument("-f", "--force", action="store_true",
                       help="Do not prompt for confirmation")
    prune.add_argument("--filter", action="append", help='Provide filter values '
                       '(e.g. "until=24h")')
    prune.add_argument("--keep-storage", help="Amount of disk space to keep for cache "
                       "(accepted; hull prunes by age and use)")
    prune.set_defaults(run=cmd_prune)


def flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("context", metavar="PATH | URL | -")
    p.add_argument("-t", "--tag", action="append", default=[],
                   help='Name and optionally a tag in the "name:tag" format')
    p.add_argument("-f", "--file", help="Name of the Dockerfile (Default is 'PATH/Dockerfile')")
    p.add_argument("--build-arg", action="append", default=[], help="Set build-time variables")
    p.add_argument("--target", default="", help="Set the target build stage to build")
    p.add_argument("--no-cache", action="store_true",
                   help="Do not use cache when building the image")
    p.add_argument("--pull", action="store_true",
                   help="Always attempt to pull a newer version of the image")
    p.add_argument("--label", action="append", default=[], help="Set metadata for an image")
    p.add_argument("--network", default="default",
                   help='Set the networking mode for the RUN instructions during build '
                   '(default "default")')
    p.add_argument("--secret", action="append", default=[],
                   help='Secret to expose to the build (format: "id=mysecret[,src=/local/secret]")')
    p.add_argument("--iidfile", help="Write the image ID to the file")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="Suppress the build output and print image ID on success")
    p.add_argument("--progress", default="auto", choices=["auto", "tty", "plain", "quiet"],
                   help='Set type of progress output ("auto", "plain", "tty", "quiet")')
    p.add_argument("-o", "--output", action="append", default=[],
                   help='Output destination (format: "type=local,dest=path")')
    p.add_argument("--platform", help="Set platform if server is multi-platform capable")
    p.add_argument("--cache-from", action="append", default=[],
                   help="Images to consider as cache sources")
    p.add_argument("--add-host", action="append", default=[],
                   help="Add a custom host-to-IP mapping (host:ip)")
    p.add_argument("--shm-size", help="Size of /dev/shm")
    p.add_argument("--ulimit", action="append", default=[], help="Ulimit options")
    for name in ("--rm", "--force-rm", "--compress"):   # the classic builder's; no effect
        p.add_argument(name, nargs="?", const="true", help=argparse.SUPPRESS)
    p.set_defaults(run=cmd_build)


# ---- the build -----------------------------------------------------------------------------

def cmd_build(args: argparse.Namespace) -> int:
    from hull.build.errors import BuildError
    from hull.cli.common import container_service
    from hull.engine.building import build
    with _Inputs(args) as inputs:
        opts = _options(args, inputs)
        progress = _progress(args)
        service = container_service(args.root)
        try:
            result = build(service, opts, progress)
        except BuildError as e:
            progress.close()
            _show_error(e, opts)
            return e.exit_code
        except KeyboardInterrupt:
            progress.close()
            print("ERROR: build canceled", file=sys.stderr)
            return 130
        finally:
            progress.close()   # whatever ended the build, the terminal is given back
    if args.iidfile:
        with open(args.iidfile, "w") as f:
            f.write(result.image_id)
    for output in args.output:
        _export(service, result.state.chain, output)
    if args.quiet:
        print(result.image_id)
    return 0


class _Inputs:
    """The Dockerfile's text and the context directory, from a path or stdin; a tar
    context is unpacked into a directory that goes when the build ends."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp: str | None = None

    def __enter__(self) -> _Inputs:
        args = self.args
        self.dockerfile_name = "Dockerfile"
        if args.context.startswith(("http://", "https://", "git@", "git://")):
            raise ClientError(f"unable to prepare context: {args.context}: remote contexts "
                              "(git and URLs) are not offered; clone or download it first")
        if args.context == "-":
            data = sys.stdin.buffer.read()
            if _is_archive(data):
                self.context_dir: str | None = self._unpack(data)
            else:
                if args.file and args.file != "-":
                    raise ClientError("when the Dockerfile comes on stdin, -f cannot name "
                                      "another one")
                self.context_dir = None
                self.dockerfile = data.decode("utf-8", errors="replace")
                return self
        else:
            if not os.path.isdir(args.context):
                raise ClientError(f'unable to prepare context: path "{args.context}" not '
                                  "found" if not os.path.exists(args.context) else
                                  f"unable to prepare context: context must be a "
                                  f"directory: {args.context}")
            self.context_dir = os.path.abspath(args.context)
        if args.file == "-":
            self.dockerfile = sys.stdin.read()
            return self
        assert self.context_dir is not None
        path = args.file or os.path.join(self.context_dir, "Dockerfile")
        if args.file and not os.path.isabs(args.file) and args.context != "-":
            path = os.path.abspath(args.file)
        elif args.file and args.context == "-":
            path = os.path.join(self.context_dir, args.file)
        self.dockerfile_name = os.path.relpath(path, self.context_dir) \
            if path.startswith(self.context_dir + "/") else path
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                self.dockerfile = f.read()
        except FileNotFoundError:
            raise ClientError("failed to solve: failed to read dockerfile: open "
                              f"{self.dockerfile_name}: no such file or directory") from None
        except IsADirectoryError:
            raise ClientError(f"failed to read dockerfile: {path} is a directory") from None
        return self

    def _unpack(self, data: bytes) -> str:
        """A context tar on stdin, extracted with the layer applier: no entry can land
        outside the directory, whatever its name or link says."""
        import io
        import tarfile
        import tempfile

        from hull.image.layer import Applier, decompressed
        self.tmp = tempfile.mkdtemp(prefix="hull-context-")
        applier = Applier(self.tmp, whiteouts="none", owner=(os.getuid(), os.getgid()))
        try:
            with tarfile.open(fileobj=decompressed(io.BytesIO(data)), mode="r|") as tar:
                applier.apply(tar)
        finally:
            applier.close()
        return self.tmp

    def __exit__(self, *exc: object) -> None:
        if self.tmp is not None:
            import shutil
            shutil.rmtree(self.tmp, ignore_errors=True)


def _is_archive(data: bytes) -> bool:
    return data[:2] == b"\x1f\x8b" or data[:3] == b"BZh" or data[:6] == b"\xfd7zXZ\x00" \
        or data[257:262] == b"ustar" or data[:4] == b"\x28\xb5\x2f\xfd"


def _options(args: argparse.Namespace, inputs: _Inputs) -> BuildOptions:
    from hull.build.options import BuildOptions
    from hull.engine import hostconfig
    from hull.image.manifest import host_platform
    platform = host_platform()
    if args.platform:
        wanted = args.platform.split(",")
        mine = f"{platform['os']}/{platform['architecture']}"
        if any(w not in (mine, platform["architecture"]) and not w.startswith(mine + "/")
               for w in wanted):
            raise InvalidArgument(f"hull builds for this machine's platform only ({mine}), "
                                  f"not {args.platform}")
    if args.network not in ("default", "none", "host", "bridge"):
        raise InvalidArgument(f"network mode {args.network!r} not supported by the builder "
                              "(default, none or host)")
    build_args: dict[str, str] = {}
    for item in args.build_arg:
        name, eq, value = item.partition("=")
        if eq:
            build_args[name] = value
        elif name in os.environ:   # as docker: the client's own variable
            build_args[name] = os.environ[name]
    labels = {}
    for item in args.label:
        k, _, v = item.partition("=")
        labels[k] = v
    from hull.image.reference import parse
    for tag in args.tag:
        parse(tag)   # a bad name fails before any work
    return BuildOptions(
        dockerfile=inputs.dockerfile, dockerfile_name=inputs.dockerfile_name,
        context_dir=inputs.context_dir, tags=args.tag, build_args=build_args,
        target=args.target, no_cache=args.no_cache, pull=args.pull, labels=labels,
        network="default" if args.network == "bridge" else args.network,
        secrets=_secrets(args.secret), add_hosts=args.add_host,
        shm_size=hostconfig.size(args.shm_size, "--shm-size") or 0,
        ulimits=[hostconfig.ulimit(u) for u in args.ulimit], platform=platform,
        cache_from=args.cache_from,
        cgroup_parent=os.environ.get("HULL_CGROUP_PARENT", "/hull"))


def _secrets(specs: list[str]) -> dict[str, bytes]:
    """--secret id=NAME[,src=PATH|,env=VAR][,type=file|env]: the content, read now."""
    out = {}
    for spec in specs:
        fields = dict(item.partition("=")[::2] for item in spec.split(",") if item)
        sid = fields.get("id", "")
        src = fields.get("src") or fields.get("source") or ""
        env = fields.get("env", "")
        if fields.get("type") == "env" and not env:
            env = src or sid
            src = ""
        if not sid:
            raise InvalidArgument(f"--secret {spec!r}: an id= is required")
        if env:
            if env not in os.environ:
                raise InvalidArgument(f"--secret {spec!r}: environment variable {env} is "
                                      "not set")
            out[sid] = os.environ[env].encode()
            continue
        path = src or (sid if os.path.isfile(sid) else "")
        if not path and sid in os.environ:
            out[sid] = os.environ[sid].encode()
            continue
        try:
            with open(path or sid, "rb") as f:
                out[sid] = f.read()
        except OSError as e:
            raise InvalidArgument(f"--secret {spec!r}: {e.strerror}: {path or sid}") from None
    return out


def _progress(args: argparse.Namespace) -> Any:
    from hull.build.progress import PlainProgress
    mode = "quiet" if args.quiet else args.progress
    if mode == "auto":
        mode = "tty" if sys.stderr.isatty() else "plain"
    if mode == "tty":
        from hull.cli.buildview import LiveProgress
        return LiveProgress(sys.stderr)
    return PlainProgress(sys.stderr, quiet=mode == "quiet")


def _show_error(e: BuildError, opts: BuildOptions) -> None:
    """BuildKit's form: the Dockerfile lines around the failing one, then the error."""
    out = sys.stderr
    if e.line:
        lines = opts.dockerfile.splitlines()
        out.write(f"{opts.dockerfile_name}:{e.line}\n--------------------\n")
        first = max(1, e.line - 2)
        last = min(len(lines), e.end_line + 2)
        for n in range(first, last + 1):
            mark = ">>>" if e.line <= n <= e.end_line else "   "
            out.write(f"{n:4d} | {mark} {lines[n - 1]}\n")
        out.write("--------------------\n")
    out.write(f"ERROR: failed to solve: {e.message}\n")
    out.flush()


def _export(service: Any, chain: str | None, spec: str) -> None:
    """--output type=local,dest=DIR | type=tar,dest=FILE|- | DIR: the final filesystem."""
    fields = dict(item.partition("=")[::2] for item in spec.split(",")) if "=" in spec \
        else {"type": "tar", "dest": "-"} if spec == "-" else {"type": "local", "dest": spec}
    kind, dest = fields.get("type", "local"), fields.get("dest", "")
    if kind not in ("local", "tar") or not dest:
        raise InvalidArgument(f"--output {spec!r}: hull writes type=local,dest=DIR or "
                              "type=tar,dest=FILE (or -)")
    from hull.engine.building import export_rootfs
    export_rootfs(service, chain, kind, dest)


# ---- builder prune ---------------------------------------------------------------------------

def cmd_prune(args: argparse.Namespace) -> int:
    from hull.cli.common import container_service
    from hull.engine import humanize
    from hull.engine.building import prune
    from hull.engine.filters import Filters
    until = Filters(args.filter, ("until",)).until()
    if not args.force and sys.stdin.isatty():
        print("WARNING! This will remove all dangling build cache. Are you sure you want "
              "to continue? [y/N] ", end="", flush=True)
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    count, freed = prune(container_service(args.root), args.all, until)
    print(f"Total:\t{humanize.size(freed)}" if count else "Total:\t0B")
    return 0

