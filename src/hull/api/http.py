"""HTTP/1.1 on one API connection, with h11 (a sans-IO protocol library: it parses and
frames, the socket stays ours — which is what a forked, blocking worker per connection
wants, and what hijacking the connection for attach and exec needs).

A connection serves requests one after another (keep-alive); a handler answers with
`respond`/`json`, streams with `stream`, or takes the raw socket with `hijack`. A body is
read only as far as its handler wants: the rest is drained (or the connection closed)
before the next request.
"""

from __future__ import annotations

import io
import json
import select
import socket
from typing import cast
from urllib.parse import parse_qs, unquote, urlsplit

import h11

from hull.api.errors import ApiError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import IO, Any

MAX_HEAD = 64 << 10        # request line and headers
MAX_JSON = 8 << 20         # a JSON body (a create or update is a few KiB)
MAX_DRAIN = 1 << 20        # an unread body left over: drained up to this, else closed


class ClientGone(Exception):
    """The client hung up: the handler stops, nothing is answered."""


class Request:
    def __init__(self, conn: Connection, event: h11.Request) -> None:
        self.conn = conn
        self.method = event.method.decode()
        target = event.target.decode("latin-1")
        parts = urlsplit(target)
        self.path = unquote(parts.path)
        self.query = parse_qs(parts.query, keep_blank_values=True)
        self.headers = {k.decode().lower(): v.decode("latin-1") for k, v in event.headers}
        self.version = ""      # the API version the path named, "" when unversioned
        self.params: dict[str, str] = {}   # path parameters ({id}, {name})
        self._ended = False

    # ---- query --------------------------------------------------------------------------

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The parameter's first value, as Go's FormValue gives dockerd (docker-py sends
        an out-of-context Dockerfile as dockerfile=NAME&dockerfile=CONTENT)."""
        values = self.query.get(name)
        return values[0] if values else default

    def args(self, name: str) -> list[str]:
        return self.query.get(name, [])

    def flag(self, name: str, default: bool = False) -> bool:
        """Docker's boolean query values: 1/true/True yes; 0/false/"" no."""
        value = self.arg(name)
        if value is None:
            return default
        return value.strip().lower() in ("1", "true", "yes")

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.arg(name)
        if value in (None, ""):
            return default
        try:
            return int(value)
        except ValueError:
            raise ApiError(400, f"invalid value for {name}: {value!r}") from None

    def json_arg(self, name: str) -> Any:
        value = self.arg(name)
        if not value:
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise ApiError(400, f"invalid JSON in {name}: {value[:80]!r}") from None

    # ---- body ---------------------------------------------------------------------------

    def chunks(self) -> Iterator[bytes]:
        """The body as it arrives."""
        while not self._ended:
            event = self.conn.next_event()
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self._ended = True

    def body(self, limit: int = MAX_JSON) -> bytes:
        out = bytearray()
        for chunk in self.chunks():
            out += chunk
            if len(out) > limit:
                raise ApiError(413, f"request body larger than {limit} bytes")
        return bytes(out)

    def json(self, default: Any = None) -> Any:
        """The body as JSON (an empty body: default)."""
        raw = self.body()
        if not raw.strip():
            return default
        try:
            return json.loads(raw)
        except ValueError as e:
            raise ApiError(400, f"invalid JSON: {e}") from None

    def reader(self) -> BodyReader:
        return BodyReader(self.chunks())

    def finish(self) -> bool:
        """The unread rest of the body drained; False: too much, close instead."""
        drained = 0
        for chunk in self.chunks():
            drained += len(chunk)
            if drained > MAX_DRAIN:
                return False
        return True


class BodyReader(io.RawIOBase):
    """A request body as a file (read(n)), for tar streams: load, import, build, PUT. A
    raw file (readinto), so io.BufferedReader can wrap it where the engine peeks at a
    stream's first bytes (import's compression sniffing)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self._chunks, self._buf = chunks, b""

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buf) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buf += chunk
        if size < 0:
            out, self._buf = self._buf, b""
        else:
            out, self._buf = self._buf[:size], self._buf[size:]
        return out

    def readable(self) -> bool:
        return True


def as_file(obj: object) -> IO[bytes]:
    """A reader or writer with the few file methods the engine calls (read, or write and
    flush), typed as the file the engine takes."""
    return cast("IO[bytes]", obj)


class Connection:
    def __init__(self, sock: socket.socket, server_header: str) -> None:
        self.sock = sock
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        self.server_header = server_header
        self.extra_headers: list[tuple[str, str]] = []   # sent with every response
        self.hijacked = False   # the raw socket was handed to a handler
        self.quiet = 0.0        # seconds a following stream has sent nothing

    # ---- reading -----------------------------------------------------------------------

    def next_event(self) -> Any:
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as e:
                raise ApiError(400, f"bad request: {e}") from None
            if event is not h11.NEED_DATA:
                return event
            try:
                data = self.sock.recv(65536)
            except OSError:
                data = b""
            self.h11.receive_data(data)
            if not data and self.h11.their_state is not h11.DONE:
                if self.h11.their_state in (h11.IDLE, h11.MUST_CLOSE, h11.CLOSED):
                    return h11.ConnectionClosed()
                raise ClientGone()

    def next_request(self) -> Request | None:
        """The next request, or None when the client is done with the connection."""
        if self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE:
            try:
                self.h11.start_next_cycle()
            except h11.LocalProtocolError:
                return None
        elif self.h11.our_state is not h11.IDLE:
            return None
        event = self.next_event()
        if isinstance(event, h11.Request):
            return Request(self, event)
        return None

    def quiet_for(self, seconds: float) -> bool:
        """A following stream (logs -f, events) sent nothing for `seconds` more: every
        second of quiet it looks whether the client is still there. False: it left."""
        self.quiet += seconds
        if self.quiet < 1.0:
            return True
        self.quiet = 0.0
        return not self.peer_closed()

    def peer_closed(self) -> bool:
        """The client hung up (checked during long streams that send nothing for a while)."""
        try:
            ready, _, _ = select.select([self.sock], [], [], 0)
            if not ready:
                return False
            return self.sock.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    # ---- writing -----------------------------------------------------------------------

    def _send(self, event: Any) -> None:
        data = self.h11.send(event)
        if data:
            try:
                self.sock.sendall(data)
            except OSError:
                raise ClientGone() from None

    def _headers(self, content_type: str | None, extra: list[tuple[str, str]] | None,
                 length: int | None) -> list[tuple[str, str]]:
        headers = [("Server", self.server_header), *self.extra_headers]
        if content_type:
            headers.append(("Content-Type", content_type))
        if length is not None:
            headers.append(("Content-Length", str(length)))
        return headers + (extra or [])

    def respond(self, status: int, body: bytes = b"", content_type: str | None = None,
                headers: list[tuple[str, str]] | None = None) -> None:
        self._send(h11.Response(status_code=status, reason=_reason(status),
                                headers=self._headers(content_type, headers, len(body))))
        if body:
            self._send(h11.Data(data=body))
        self._send(h11.EndOfMessage())

    def json(self, status: int, value: Any) -> None:
        self.respond(status, (json.dumps(value) + "\n").encode(), "application/json")

    def stream(self, status: int = 200, content_type: str = "application/json",
               headers: list[tuple[str, str]] | None = None) -> Stream:
        """A response whose body follows in pieces (chunked), flushed as each is sent."""
        self._send(h11.Response(status_code=status, reason=_reason(status),
                                headers=self._headers(content_type, headers, None)))
        return Stream(self)

    def hijack(self, request: Request, content_type: str) -> tuple[socket.socket, bytes]:
        """Take the raw connection (attach, exec start): 101 UPGRADED when the client asked
        for an upgrade, else 200 and the raw stream, as Docker answers older clients.
        Returns the socket and any bytes the client already sent past the request."""
        request.finish()
        self.hijacked = True
        if request.headers.get("upgrade"):
            self._send(h11.InformationalResponse(status_code=101, headers=[
                ("Content-Type", content_type), ("Connection", "Upgrade"),
                ("Upgrade", request.headers["upgrade"])]))
            trailing, _closed = self.h11.trailing_data
            return self.sock, bytes(trailing)
        head = (f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n"
                f"Server: {self.server_header}\r\n"
                + "".join(f"{k}: {v}\r\n" for k, v in self.extra_headers) + "\r\n")
        try:
            self.sock.sendall(head.encode())
        except OSError:
            raise ClientGone() from None
        return self.sock, b""

    def error(self, status: int, message: str) -> bool:
        """{"message": …} with the status, if a response can still be started; False
        when a response was under way (the connection must then be closed: a client
        sees its body cut short rather than complete)."""
        if self.h11.our_state in (h11.SEND_RESPONSE, h11.IDLE):   # IDLE: not even HTTP
            try:
                self.json(status, {"message": message})
                return True
            except (ClientGone, h11.LocalProtocolError):
                pass
        return False


def _reason(status: int) -> bytes:
    from http import HTTPStatus
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""


class Stream:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def send(self, data: bytes) -> None:
        if data:
            self.conn._send(h11.Data(data=data))

    def json(self, value: Any) -> None:
        self.send((json.dumps(value) + "\n").encode())

    def end(self) -> None:
        self.conn._send(h11.EndOfMessage())
