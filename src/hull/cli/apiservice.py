"""`hull system service --socket URL`: serve the Docker Engine API from this root's engine
service, in the foreground, until Ctrl-C (or --time seconds without a request).

This command binds the socket, makes sure the root's service runs (starting it as any
command would), hands it the listening socket and stays: its connection is the API's
lease. Ctrl-C or SIGTERM ends the lease (the service stops accepting on the socket and
the path is removed); a service that goes away (an upgrade, a crash) gets the socket
again from here, and clients that connected meanwhile wait in its backlog."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse


def serve_api(args: argparse.Namespace, state: str) -> int:
    from hull.api.listen import bind, default_url, tls_settings
    root = os.path.abspath(args.root)
    url = args.socket or default_url(root, state)
    tls = tls_settings(args)
    listener = bind(url, tls)
    path = url.partition("://")[2] if url.startswith("unix://") else ""
    stop = {"now": False}

    def leave(_sig: int, _frame: object) -> None:
        stop["now"] = True
        raise KeyboardInterrupt
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, leave)
    idle = 0.0 if args.time is None else float(args.time)
    print(f"hull: serving the Docker Engine API on {url} for {root}"
          + (f" (leaving after {idle:g} idle seconds)" if idle > 0 else ""), file=sys.stderr)
    try:
        while not stop["now"]:
            outcome = _lease(root, state, listener, url, idle, tls)
            if outcome == "idle":
                return 0
            time.sleep(0.2)   # the service went away: hand the socket to the next one
    except KeyboardInterrupt:
        return 0
    finally:
        listener.close()
        if path:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
    return 0


def _lease(root: str, state: str, listener: socket.socket, url: str, idle: float,
           tls: dict[str, str] | None) -> str:
    """One service's lease of the socket: "idle" when it ended it, "gone" when the
    service went away."""
    from hull.engine.attach import Frames, read_message
    from hull.service import protocol
    from hull.service.connect import service
    try:
        raw = service(root, state)
    except OSError as e:
        print(f"hull: {e}", file=sys.stderr)
        return "gone"
    conn = socket.socket(fileno=raw.detach())
    try:
        conn.sendmsg([protocol.encode_call({"op": "api", "url": url, "idle": idle,
                                            "tls": tls})],
                      [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                        listener.fileno().to_bytes(4, "little", signed=True))])
        frames = Frames()
        first = read_message(conn, frames)
        if first.get("error"):
            print(f"hull: {first['error']}", file=sys.stderr)
            return "idle"
        while True:
            message = read_message(conn, frames)
            if not message:
                return "gone"
            if message.get("idle"):
                return "idle"
    except OSError:
        return "gone"
    finally:
        conn.close()
