"""libnftables through ctypes: one call applies a whole batch of nft commands atomically.

Why the library and not the `nft` program: a process per change costs ~1.9 ms here and is what
makes firewall updates slow with every port (moby#53466); libnftables takes the same text
`nft -f` takes and commits it as one netlink transaction, so an operation's rules appear
all at once or not at all. The Python bindings Debian ships (python3-nftables) live outside
hull's virtualenv and wrap the same four calls, so hull calls them directly.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading

from hull.errors import Unavailable

NFT_CTX_DEFAULT = 0
NFT_CTX_OUTPUT_HANDLE = 1 << 3
NFT_CTX_OUTPUT_JSON = 1 << 4

_lock = threading.Lock()
_lib: ctypes.CDLL | None = None


def _library() -> ctypes.CDLL:
    global _lib
    if _lib is None:
        name = ctypes.util.find_library("nftables") or "libnftables.so.1"
        try:
            lib = ctypes.CDLL(name, use_errno=True)
        except OSError:
            raise Unavailable("networking needs libnftables (Debian package: nftables or "
                              "libnftables1)") from None
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
        lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_output_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_get_output_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
        _lib = lib
    return _lib


def available() -> bool:
    try:
        _library()
    except Unavailable:
        return False
    return True


def run(commands: str, json: bool = False) -> str:
    """Apply commands (nft's own syntax, several lines = one transaction); returns what nft
    prints (JSON with json=True). An error raises OSError carrying nft's message."""
    lib = _library()
    with _lock:   # a context is not thread-safe; one at a time is plenty
        ctx = lib.nft_ctx_new(NFT_CTX_DEFAULT)
        try:
            if json:
                lib.nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_JSON)
            lib.nft_ctx_buffer_output(ctx)
            lib.nft_ctx_buffer_error(ctx)
            rc = lib.nft_run_cmd_from_buffer(ctx, commands.encode())
            out = (lib.nft_ctx_get_output_buffer(ctx) or b"").decode()
            err = (lib.nft_ctx_get_error_buffer(ctx) or b"").decode()
        finally:
            lib.nft_ctx_free(ctx)
    if rc != 0:
        first = next((line for line in err.splitlines() if line.strip()), "failed")
        raise OSError(f"nftables: {first}")
    return out


NETLINK_NETFILTER = 12
NFNL_SUBSYS_NFTABLES = 10
NFT_MSG_GETTABLE = 1
NFTA_TABLE_NAME = 1
NFPROTO_INET = 1


def table_exists(name: str, family: int = NFPROTO_INET) -> bool:
    """Whether the kernel has this nftables table: one netlink request (~0.1 ms), where
    libnftables would first fetch the whole ruleset into its cache (~1 ms) — asked on
    every container start, to notice a flushed ruleset."""
    import errno
    import socket
    import struct

    from hull.linux import netlink
    kind = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE
    body = struct.pack("=BBH", family, 0, 0) + netlink.attr(NFTA_TABLE_NAME, name)
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER) as sock:
        sock.send(netlink.message(kind, netlink.NLM_F_REQUEST | netlink.NLM_F_ACK, 1, body))
        while True:
            for msg in netlink.parse_messages(sock.recv(65536)):
                if msg.type == netlink.NLMSG_ERROR:
                    error = netlink.error_of(msg.payload, msg.flags, f"get table {name}")
                    if error is None:
                        return True   # the ack after the table itself
                    if error.errno == errno.ENOENT:
                        return False
                    raise error
                if msg.type >> 8 == NFNL_SUBSYS_NFTABLES:
                    return True   # NFT_MSG_NEWTABLE: the table's description
