"""pull, push, login, logout."""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any


def cmd_pull(args: argparse.Namespace) -> int:
    from hull.engine.images import ImageService
    from hull.image.reference import parse
    name = args.name
    ref = parse(name)
    if ref.tag == "latest" and ":" not in name.rsplit("/", 1)[-1] and "@" not in name:
        print("Using default tag: latest")
    _, fresh = ImageService(args.root).pull(name, args.platform, progress=_progress(args))
    if not args.quiet:
        print(f"Status: {'Downloaded newer image' if fresh else 'Image is up to date'} for "
              f"{ref.familiar()}")
    print(str(ref))
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    from hull.engine.images import ImageService
    ImageService(args.root).push(args.name, progress=_progress(args))
    return 0


def _progress(args: argparse.Namespace) -> Any:
    from hull.image.progress import Progress, Quiet
    if args.quiet:
        return Quiet()
    if sys.stdout.isatty():
        from hull.cli.bars import Bars
        return Bars()
    return Progress()


def cmd_login(args: argparse.Namespace) -> int:
    from hull.engine.login import login
    from hull.errors import InvalidArgument
    user = args.username
    password = args.password
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
    if logout(server):
        print(f"Removing login credentials for {server}")
    else:
        print(f"Not logged in to {server}")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("pull", help="download an image from a registry")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--platform")
    p.add_argument("-a", "--all-tags", action="store_true", help="not supported")
    p.add_argument("name")
    p.set_defaults(run=cmd_pull)
    p = sub.add_parser("push", help="upload an image to a registry")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("name")
    p.set_defaults(run=cmd_push)
    p = sub.add_parser("login", help="log in to a registry")
    p.add_argument("-u", "--username")
    p.add_argument("-p", "--password")
    p.add_argument("--password-stdin", action="store_true")
    p.add_argument("server", nargs="?")
    p.set_defaults(run=cmd_login)
    p = sub.add_parser("logout", help="log out from a registry")
    p.add_argument("server", nargs="?")
    p.set_defaults(run=cmd_logout)
