"""The Docker Engine API on one connection, in a process the engine service forked for
it (service/apihost.py): requests are read and answered one after another until the
client closes, or until a handler hijacks the connection (attach, exec start).

    client ──HTTP/1.1──► Connection (http.py) ──► route (routes.py): the path's API
    version checked and stripped, the handler found by method and path
                                      ──► handler (system, containers, images, …)
                                             ──► the engine, as the CLI calls it

A handler raises ApiError/HullError for Docker's {"message"} with its status; anything
else is a bug: logged with its traceback, answered 500, and the next request still served.
"""

from __future__ import annotations

import os
import signal
import socket

from hull.api.context import Context
from hull.api.errors import ApiError, Hijacked, NotModified, status_of
from hull.api.http import ClientGone, Connection
from hull.api.routes import dispatch
from hull.errors import HullError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

def warm_up(ctx: Context) -> None:
    """A worker forked ahead of its connection runs the common requests once on a pair
    of its own: what a first request costs in a fresh fork (pages copied on write,
    lazy imports, the database opened) is paid before a client waits."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(b"GET /_ping HTTP/1.1\r\nHost: w\r\n\r\n"
                       b"GET /containers/json?all=1&limit=1 HTTP/1.1\r\nHost: w\r\n\r\n"
                       b"GET /version HTTP/1.1\r\nHost: w\r\nConnection: close\r\n\r\n")
        theirs.shutdown(socket.SHUT_WR)   # the answers are small: they wait in the pair
        serve_connection(ours, ctx, lambda _message: None)


def serve_connection(sock: socket.socket, ctx: Context, log: Callable[[str], None]) -> None:
    """Requests on one connection until it closes or a handler hijacks it."""
    from hull import __version__
    from hull.api.versions import API_VERSION
    conn = Connection(sock, f"hull/{__version__}")
    conn.extra_headers = [("Api-Version", API_VERSION), ("Docker-Experimental", "false"),
                          ("Ostype", "linux")]
    while True:
        try:
            request = conn.next_request()
        except ApiError as e:   # not HTTP: answered once, then closed
            conn.error(e.status, str(e))
            break
        except ClientGone:
            break
        if request is None:
            break
        try:
            try:
                dispatch(ctx, conn, request)
            except Hijacked:
                raise
            except Exception as e:
                if not conn.hijacked:
                    raise
                import traceback  # a raw stream cannot carry an error: on record
                log(f"api: {request.method} {request.path}: {type(e).__name__} after "
                    f"the hijack:\n{traceback.format_exc()}")
                raise Hijacked() from None
        except Hijacked:
            _close_gently(sock)
            return
        except ClientGone:
            break
        except NotModified:
            conn.respond(304)
        except (ApiError, HullError) as e:
            status = e.status if isinstance(e, ApiError) else status_of(e)
            if not conn.error(status, str(e)):
                log(f"api: {request.method} {request.path}: failed mid-response: {e}")
                break
        except Exception as e:   # a bug: on record, answered, the connection goes on
            import traceback
            log(f"api: {request.method} {request.path}: {traceback.format_exc()}")
            if not conn.error(500, f"{type(e).__name__}: {e}"):
                break
        try:
            if not request.finish():
                break
        except (ClientGone, ApiError):
            break
    try:
        sock.close()
    except OSError:
        pass


def _close_gently(sock: socket.socket) -> None:
    """The end of a hijacked stream: our side closed first, then what the client still
    sends (a last resize, its own close) read away — closing with unread input would
    reset the connection, and the client would report the reset instead of the exit."""
    import time
    try:
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(0.5)
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and sock.recv(65536):
            pass
    except OSError:
        pass
    sock.close()


def fresh_process() -> None:
    """A worker of its own: signals as a fresh process has them, the service's loop
    wakeup fd not ours."""
    os.setsid()
    signal.set_wakeup_fd(-1)
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD, signal.SIGQUIT,
                   signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH, signal.SIGINT):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
