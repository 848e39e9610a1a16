"""Typed messages between the runtime and the processes it forks.

One socketpair(AF_UNIX, SOCK_SEQPACKET): every send is exactly one message, so there is no
framing to get wrong, and a crashed peer shows up as end-of-file rather than a hang.
Messages are small JSON objects with a "type"; an {"type": "error"} from the child turns
into an exception in the parent, carrying the child's one-line message.
"""

from __future__ import annotations

import _socket

from hull import fastjson
from hull.errors import CannotInvoke, CommandNotFound, HullError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_ERRORS: dict[str, type[HullError]] = {
    "not-found": CommandNotFound, "cannot-invoke": CannotInvoke, "error": HullError,
}


class ChildError(HullError):
    """A failure reported by the container's side of the protocol."""


class Channel:
    def __init__(self, sock: _socket.socket) -> None:
        self.sock = sock

    @staticmethod
    def pair() -> tuple[Channel, Channel]:
        # _socket, not socket: the wrapper module imports enum and selectors at start-up
        a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
        return Channel(a), Channel(b)

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, msg_type: str, **data: Any) -> None:
        self.sock.send(fastjson.dumps({"type": msg_type, **data}).encode())

    def send_fd(self, msg_type: str, fd: int, **data: Any) -> None:
        """A message carrying one file descriptor (SCM_RIGHTS)."""
        self.send_fds(msg_type, [fd], **data)

    def send_fds(self, msg_type: str, fds: list[int], **data: Any) -> None:
        """A message carrying file descriptors (SCM_RIGHTS; at most 8), in order."""
        payload = fastjson.dumps({"type": msg_type, **data}).encode()
        rights = b"".join(fd.to_bytes(4, "little", signed=True) for fd in fds)
        self.sock.sendmsg([payload], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, rights)]
                          if fds else [])

    def send_error(self, message: str, kind: str = "error") -> None:
        try:
            self.send("error", message=message, kind=kind)
        except Exception:
            pass

    def recv(self, expect: str | None = None, eof: bool = False) -> dict[str, Any]:
        """The next message (its fds under "fds"); an error message raises. At end of
        file: {} if eof, else the child died before it finished."""
        raw, ancillary, _, _ = self.sock.recvmsg(65536, _socket.CMSG_SPACE(4 * 8))
        fds = [int.from_bytes(data[i:i + 4], "little", signed=True)
               for level, kind, data in ancillary
               if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS
               for i in range(0, len(data) - len(data) % 4, 4)]
        if not raw:
            if eof:
                return {}
            raise ChildError("container init exited before finishing setup")
        msg: dict[str, Any] = fastjson.loads(raw)
        if fds:
            msg["fds"] = fds
        if msg["type"] == "error":
            cls = _ERRORS.get(msg.get("kind", "error"), HullError)
            err = cls(msg["message"])
            raise err
        if expect is not None and msg["type"] != expect:
            raise ChildError(f"protocol error: expected {expect!r}, got {msg['type']!r}")
        return msg

    def close(self) -> None:
        self.sock.close()
