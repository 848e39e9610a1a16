"""Where the API listens: a Unix socket (the default: mode 0660, owner root, group `hull`
when that group exists — membership is root on the host, as with Docker's `docker`
group), a socket systemd passed (fd://), or TCP only with TLS and client certificates."""

from __future__ import annotations

import grp
import os
import socket

from hull.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_SOCKET = "/run/hull/docker.sock"
GROUP = "hull"


def default_url(root: str, state: str) -> str:
    """unix:///run/hull/docker.sock for the default root, else <state>/docker.sock."""
    if os.path.abspath(root) == "/var/lib/hull":
        return "unix://" + DEFAULT_SOCKET
    return "unix://" + os.path.join(os.path.abspath(state), "docker.sock")


def bind(url: str, tls: dict[str, str] | None) -> socket.socket:
    """The listening socket for url; refused with a clear message when unsafe or wrong."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "unix", url
    if scheme == "unix":
        if not rest.startswith("/"):
            raise InvalidArgument(f"--socket {url}: a unix socket needs an absolute path")
        return _unix(rest)
    if scheme == "fd":
        return _activated(rest)
    if scheme == "tcp":
        if not tls:
            raise InvalidArgument(f"--socket {url}: refusing to serve the API on TCP without "
                                  "TLS: anyone who can connect is root on this host; give "
                                  "--tlsverify --tlscacert CA --tlscert CERT --tlskey KEY")
        host, _, port = rest.rpartition(":")
        if not port.isdigit():
            raise InvalidArgument(f"--socket {url}: expected tcp://HOST:PORT")
        s = socket.create_server((host.strip("[]") or "127.0.0.1", int(port)), backlog=128)
        s.set_inheritable(False)
        return s
    raise InvalidArgument(f"--socket {url}: unsupported scheme {scheme!r} (unix://, fd://, "
                          "tcp:// with TLS)")


def _unix(path: str) -> socket.socket:
    os.makedirs(os.path.dirname(path) or "/", mode=0o755, exist_ok=True)
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:   # a live socket there belongs to someone else: never take it over
        probe.settimeout(1.0)
        probe.connect(path)
        raise InvalidArgument(f"--socket unix://{path}: something already listens there")
    except (FileNotFoundError, ConnectionRefusedError):
        pass
    except OSError as e:
        if not isinstance(e, InvalidArgument) and os.path.exists(path) and \
                not _is_socket(path):
            raise InvalidArgument(f"--socket unix://{path}: exists and is not a socket") \
                from None
    finally:
        probe.close()
    if os.path.lexists(path):
        if not _is_socket(path):
            raise InvalidArgument(f"--socket unix://{path}: exists and is not a socket")
        os.unlink(path)   # a stale socket of a service that is gone
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)   # never world-reachable, not even for a moment
    try:
        s.bind(path)
    finally:
        os.umask(old)
    try:
        gid = grp.getgrnam(GROUP).gr_gid
    except KeyError:
        gid = 0
    os.chown(path, 0, gid)
    os.chmod(path, 0o660)
    s.listen(128)
    return s


def _is_socket(path: str) -> bool:
    import stat
    try:
        return stat.S_ISSOCK(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False


def _activated(rest: str) -> socket.socket:
    """fd:// (systemd's LISTEN_FDS, fd 3) or fd://N."""
    fd = int(rest) if rest.isdigit() else 3
    if not rest and os.environ.get("LISTEN_FDS", "0") == "0":
        raise InvalidArgument("--socket fd://: no socket was passed (LISTEN_FDS is unset)")
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(name, None)
    try:
        s = socket.socket(fileno=fd)
        if not s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
            raise InvalidArgument(f"--socket fd://{rest}: fd {fd} is not a listening socket")
    except OSError as e:
        raise InvalidArgument(f"--socket fd://{rest}: {e.strerror}") from None
    s.set_inheritable(False)
    return s


def tls_settings(args: Any) -> dict[str, str] | None:
    """--tlsverify with its three files, each checked to exist; None without TLS."""
    if not getattr(args, "tlsverify", False):
        return None
    out = {}
    for name in ("tlscacert", "tlscert", "tlskey"):
        path = getattr(args, name, None)
        if not path or not os.path.isfile(path):
            raise InvalidArgument(f"--tlsverify needs --{name} FILE (got {path!r})")
        out[name] = os.path.abspath(path)
    return out


def tls_context(tls: dict[str, str]) -> Any:
    """The server's TLS: its certificate, and client certificates required and checked
    against the CA (an unauthenticated API is root on the host)."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(tls["tlscert"], tls["tlskey"])
    ctx.load_verify_locations(tls["tlscacert"])
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx
