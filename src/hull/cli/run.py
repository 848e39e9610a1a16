"""`run`, `create`, `start` and `attach`: a container made from its flags, started under the
engine service's supervision, its output attached; refusals reported as the docker command
reports them (the CLI's own checks as "hull: …", the engine's as "Error response from
daemon: …")."""

from __future__ import annotations

import contextlib
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator
    from typing import Any

    from hull.errors import HullError


def _service(args: argparse.Namespace) -> Any:
    from hull.cli.common import container_service
    return container_service(args.root)


def _ensure_image(args: argparse.Namespace, name: str) -> None:
    from hull.engine.images import ImageService
    from hull.errors import HullError, NotFound
    images = ImageService(args.root)
    try:
        if args.pull == "always":
            images.pull(name, platform=args.platform)
            return
        try:
            image = images.store.resolve(name)
            if _platform_matches(images.store.config(image), args.platform):
                return
            if args.pull == "never":
                raise HullError(f"image with reference {name} was found but does not match "
                                f"the specified platform: wanted {args.platform}")
        except NotFound:
            if args.pull == "never":
                raise
        from hull.image.reference import parse
        print(f"Unable to find image '{parse(name).familiar()}' locally", file=sys.stderr)
        from hull.image.progress import Progress
        try:
            images.pull(name, platform=args.platform,
                        progress=Progress(lambda line: print(line, file=sys.stderr)))
        except NotFound as e:
            raise HullError(str(e)) from None   # docker run exits 125 here, not 1
    finally:
        images.store.close()


def _platform_matches(config: dict[str, Any], platform: str | None) -> bool:
    if not platform:
        return True
    os_name, _, arch = platform.partition("/")
    arch, _, variant = arch.partition("/")
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(arch, arch)
    return (config.get("os", "linux") == os_name and (not arch or config.get("architecture")
                                                       == arch)
            and (not variant or config.get("variant", variant) == variant))


def check_tty(attach_stdin: bool, tty: bool) -> None:
    """A terminal in the container needs one here when stdin is attached: piped input
    and a tty do not mix (Docker refuses it the same way, before creating anything)."""
    if tty and attach_stdin and not sys.stdin.isatty():
        from hull.errors import ClientError
        raise ClientError("the input device is not a TTY")


class _Refused(Exception):
    """run/create refused: how Docker reports it — the CLI's own checks as "docker: …",
    the daemon's answers as "Error response from daemon: …" (create exits 1 with them, run
    125 under the command's name), both with a pointer to --help."""

    def __init__(self, error: HullError, daemon: bool) -> None:
        super().__init__(str(error))
        self.error, self.daemon = error, daemon


@contextlib.contextmanager
def _refusals(daemon: bool) -> Iterator[None]:
    from hull.errors import ClientError, FlagError, HullError
    try:
        yield
    except (ClientError, FlagError):
        raise
    except HullError as e:
        raise _Refused(e, daemon) from None


def _report(args: argparse.Namespace, refused: _Refused, command: str) -> int:
    e = refused.error
    if refused.daemon and command == "create":
        print(f"Error response from daemon: {e}", file=sys.stderr)
        return 1
    text = f"Error response from daemon: {e}" if refused.daemon else str(e)
    print(f"hull: {text}\n\nRun 'hull {command} --help' for more information", file=sys.stderr)
    return e.exit_code if e.exit_code in (126, 127) else 125


def cmd_run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except _Refused as refused:
        if args.debug:
            raise refused.error from None
        return _report(args, refused, "run")


def _run(args: argparse.Namespace) -> int:
    import os

    from hull.trace import mark
    check_tty(args.interactive and not args.detach, args.tty)
    with _refusals(daemon=False):
        if args.attach:
            from hull.errors import InvalidArgument
            if args.detach:
                raise InvalidArgument("Conflicting options: -a and -d")
            for stream in args.attach:
                if stream.lower() not in ("stdin", "stdout", "stderr"):
                    raise InvalidArgument(f"invalid argument \"{stream}\" for \"-a, "
                                          "--attach\" flag: valid streams are STDIN, STDOUT "
                                          "and STDERR")
            args.attach = [s.lower() for s in args.attach]
        service = _service(args)
        from hull.cli.runflags import options
        opts = options(args)
        if args.cidfile and os.path.exists(args.cidfile):
            from hull.errors import InvalidArgument
            raise InvalidArgument(f"container ID file found, make sure the other container "
                                  f"isn't running or delete {args.cidfile}")
    with _refusals(daemon=True):
        _ensure_image(args, args.image)
        mark("run: image ready")
        from hull.engine.create import create
        container = create(service, opts)
    mark("run: container created (rootfs snapshots, record)")
    if args.cidfile:
        with open(args.cidfile, "w") as f:
            f.write(container.id)
    sys.stdout.flush()
    attach = not args.detach
    from hull.errors import HullError
    try:
        session = service.start_supervised(
            container.id, attach=attach,
            stdin_fd=0 if args.interactive and attach and not args.tty else None,
            streams=[s for s in args.attach or ["stdout", "stderr"] if s != "stdin"],
            stdin=args.interactive and args.tty)
    except HullError as failed:
        if args.detach:
            print(container.id)   # Docker prints it too: the container exists, "Created"
        raise _Refused(failed, daemon=True) from None
    mark("run: the service reports the container started")
    if args.detach:
        session.close()
        print(container.id)
        return 0
    if not args.tty:
        _proxy_signals(service, container.id)
    from hull.engine.attach import proxy
    detached, code = proxy(session.conn, session.frames, forward_stdin=args.interactive and
                           args.tty, tty=args.tty, detach_keys=_detach_keys(args))
    session.close()
    mark("run: the service reports the exit (recorded, cleaned up)")
    if detached:
        return 0   # the container runs on under the service
    return code if code is not None else int(service.wait(container.id))


def _proxy_signals(service: Any, cid: str) -> None:
    """Docker's --sig-proxy: the signals this command gets go to the container."""
    import signal

    def forward(sig: int, _frame: object) -> None:
        try:
            service.runtime().kill(cid, sig)
        except Exception:
            pass
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, forward)


def cmd_create(args: argparse.Namespace) -> int:
    try:
        from hull.cli.runflags import options
        with _refusals(daemon=False):
            opts = options(args)   # bad flags are refused before any pull
        with _refusals(daemon=True):
            _ensure_image(args, args.image)
            from hull.engine.create import create
            print(create(_service(args), opts).id)
    except _Refused as refused:
        if args.debug:
            raise refused.error from None
        return _report(args, refused, "create")
    return 0


def _detach_keys(args: argparse.Namespace) -> str:
    from hull.engine.attach import DEFAULT_DETACH_KEYS, parse_detach_keys
    keys: str = getattr(args, "detach_keys", None) or os.environ.get(
        "HULL_DETACH_KEYS", DEFAULT_DETACH_KEYS)
    parse_detach_keys(keys)   # a bad value is refused before anything starts
    return keys


def cmd_attach(args: argparse.Namespace) -> int:
    """Attach this terminal (or stdio) to a running container; Ctrl-P Ctrl-Q detaches."""
    from hull.engine.attach import proxy
    from hull.errors import ClientError
    service = _service(args)
    keys = _detach_keys(args)
    c = service.store.get(args.container)
    if not c.state.get("Running"):
        raise ClientError("You cannot attach to a stopped container, start it first")
    tty = bool(c.config.get("Tty"))
    check_tty(not args.no_stdin, tty)
    stdin = not args.no_stdin and bool(c.config.get("OpenStdin"))
    session = service.supervised().attach(c.id, stdin=stdin)
    if "attached" not in session.first:
        session.close()
        raise ClientError(str(session.first.get("error") or "cannot attach"))
    if not tty and args.sig_proxy != "false":
        _proxy_signals(service, c.id)
    detached, code = proxy(session.conn, session.frames, forward_stdin=stdin, tty=tty,
                           detach_keys=keys)
    session.close()
    if detached:
        print("read escape sequence", file=sys.stderr)
        return 0
    return code if code is not None else int(service.wait(c.id))


def cmd_start(args: argparse.Namespace) -> int:
    """Each container started under its lock: of several `start`s at once one starts it,
    the others find it running (and print its name, as Docker does)."""
    from hull.engine.attach import proxy
    from hull.errors import HullError
    code = 0
    for name in args.containers:
        service = _service(args)
        try:
            with service.locked(name) as c:
                if c.state.get("Running"):
                    print(name)
                    continue
                tty = bool(c.config.get("Tty"))
                stdin = args.attach and args.interactive and bool(c.config.get("OpenStdin"))
                session = service.start_supervised(c.id, attach=args.attach, stdin=stdin)
            if args.attach:
                detached, exit_code = proxy(session.conn, session.frames, forward_stdin=stdin,
                                            tty=tty, detach_keys=_detach_keys(args))
                if not detached:
                    code = exit_code if exit_code is not None else int(service.wait(c.id))
            else:
                print(name)
            session.close()
        except HullError as e:
            print(f"Error response from daemon: {e}", file=sys.stderr)
            code = 1
    return code
