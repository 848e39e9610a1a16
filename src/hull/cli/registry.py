"""pull, push, login, logout."""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any


def _reference(name: str) -> Any:
    """A name the docker command itself refuses when malformed (exit 1, bare)."""
    from hull.errors import ClientError, InvalidArgument
    from hull.image.reference import parse
    try:
        return parse(name)
    except InvalidArgument as e:
        raise ClientError(str(e)) from None


def cmd_pull(args: argparse.Namespace) -> int:
    from hull.engine.images import ImageService
    name = args.name
    ref = _reference(name)
    if ref.tag == "latest" and ":" not in name.rsplit("/", 1)[-1] and "@" not in name:
        print("Using default tag: latest")
    _, fresh = ImageService(args.root).pull(name, args.platform, progress=_progress(args))
    if not args.quiet:
        print(f"Status: {'Downloaded newer image' if fresh else 'Image is up to date'} for "
              f"{ref.familiar()}")
    print(str(ref))
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    """As docker push: the repository line first, then the image (or why not)."""
    from hull.engine.images import ImageService
    from hull.errors import ClientError, NotFound
    from hull.registry.client import Unreachable
    ref = _reference(args.name)
    service = ImageService(args.root)
    try:
        service.store.resolve(args.name)
    except NotFound:
        print(f"The push refers to repository [{ref.name}]")
        raise ClientError(f"An image does not exist locally with the tag: "
                          f"{ref.familiar().rsplit(':', 1)[0] if ref.tag else ref.familiar()}"
                          ) from None
    try:
        service.push(args.name, progress=_progress(args))
    except Unreachable as e:   # the push stream's own error: Docker prints it bare
        raise ClientError(str(e)) from None
    return 0


def _progress(args: argparse.Namespace) -> Any:
    from hull.image.progress import Progress, Quiet
    if args.quiet:
        return Quiet()
    if sys.stdout.isatty():
        from hull.cli.bars import Bars
        return Bars()
    return Progress()


def cmd_search(args: argparse.Namespace) -> int:
    """`docker search`, against the registry catalog (docker.io's mirrors, or the
    registry the term names: REGISTRY/TERM)."""
    from hull.engine.images import ImageService
    rows = ImageService(args.root).search(args.term, args.limit)
    print(f"{'NAME':<30} {'DESCRIPTION':<40} {'STARS':<7} OFFICIAL")
    for r in rows:
        print(f"{r['name']:<30} {r['description']:<40} {r['star_count']:<7} "
              f"{'[OK]' if r['is_official'] else ''}".rstrip())
    return 0


def cmd_login(args: argparse.Namespace) -> int:
    from hull.engine.login import login
    from hull.errors import InvalidArgument
    user = args.username
    password = args.password
    if password is not None:
        print("WARNING! Using --password via the CLI is insecure. Use --password-stdin.",
              file=sys.stderr)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    if user is None:
        sys.stdout.write("Username: ")
        sys.stdout.flush()
        user = sys.stdin.readline().strip()
    if password is None:
        import getpass
        password = getpass.getpass("Password: ")
    if not user or not password:
        raise InvalidArgument("login: username and password are required")
    login(args.server or "docker.io", user, password)
    print("Login Succeeded")
    return 0


def cmd_logout(args: argparse.Namespace) -> int:
    from hull.engine.login import logout
    server = args.server or "docker.io"
    logout(server)   # Docker says so whether or not it had any
    print(f"Removing login credentials for {server}")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("pull", help="Download an image from a registry")
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress verbose output")
    p.add_argument("--platform", help="Set platform if server is multi-platform capable")
    p.add_argument("-a", "--all-tags", action="store_true", help="Download all tagged "
                   "images in the repository (not supported: accepted and ignored)")
    p.add_argument("name")
    p.set_defaults(run=cmd_pull)
    p = sub.add_parser("push", help="Upload an image to a registry")
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress verbose output")
    p.add_argument("name")
    p.set_defaults(run=cmd_push)
    p = sub.add_parser("login", help="Authenticate to a registry")
    p.add_argument("-u", "--username", help="Username")
    p.add_argument("-p", "--password", help="Password or Personal Access Token (PAT)")
    p.add_argument("--password-stdin", action="store_true",
                   help="Take the Password or Personal Access Token (PAT) from stdin")
    p.add_argument("server", nargs="?")
    p.set_defaults(run=cmd_login)
    p = sub.add_parser("logout", help="Log out from a registry")
    p.add_argument("server", nargs="?")
    p.set_defaults(run=cmd_logout)
    p = sub.add_parser("search", help="Search the configured registry for images")
    p.add_argument("--limit", type=int, default=25, help="Max number of search results")
    p.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    p.add_argument("term")
    p.set_defaults(run=cmd_search)
