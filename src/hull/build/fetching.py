"""ADD's two extras over COPY: local tar archives are unpacked, remote files downloaded.

Archives. A local source of ADD that is a regular file and reads as a tar archive — plain,
gzip, bzip2, xz or zstd, recognised by its first bytes and by a valid first tar header,
never by its name — is extracted into the destination, which becomes a directory (Docker's
rule, kept by BuildKit for compatibility). Extraction is Docker's plain Untar, not a layer
apply: existing files are replaced, an existing directory is merged with one from the
archive, `.wh.` names are ordinary files, owners come from the tar headers unless --chown
gives one, --chmod does not apply. It goes through the layer Applier rooted at the
destination directory, exactly as Docker's chrootarchive is chrooted there: an absolute
symlink in the archive (or already in the destination) means the destination, `..` cannot
leave it.

URLs. ADD of an http(s) URL downloads the body (content-encoding undone, as Go's client
does) into the file named by the URL path's last element ("__unnamed__" when there is
none), mode 0600, mtime from Last-Modified or the epoch: what BuildKit's HTTP source
produces. The copy into the image then follows COPY's rules, and remote files are not
unpacked. A status outside 200-399 fails the step as BuildKit's does ("invalid response
status 404"); --checksum=ALGO:HEX is verified on the bytes as written.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import os
import posixpath
import re
import tarfile
import tempfile
import time
import urllib.parse

from hull.build.errors import BuildError
from hull.errors import InvalidArgument
from hull.image.layer import Applier
from hull.linux import fs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any

_CHUNK = 1 << 20
_DIGEST_SIZES = {"sha256": 64, "sha384": 96, "sha512": 128}


# --- local archives ---------------------------------------------------------------------

def _decompressed(raw: IO[bytes]) -> Any:
    """raw as tar bytes: the compression is told by magic numbers, as Docker's
    DecompressStream tells it."""
    head = raw.read(6)
    raw.seek(0)
    if head[:2] == b"\x1f\x8b":
        import gzip
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if head[:3] == b"BZh":
        import bz2
        return bz2.BZ2File(raw)
    if head == b"\xfd7zXZ\x00":
        import lzma
        return lzma.LZMAFile(raw)
    if head[:4] == b"\x28\xb5\x2f\xfd":
        import zstandard
        return zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
    return raw


def _open_data(fd: int) -> IO[bytes]:
    """A file object of its own over fd's data (fd stays the caller's)."""
    return open(fs.fd_path(fd), "rb")   # closed by the caller's with


def is_archive(fd: int) -> bool:
    """Whether the regular file open at fd is a (compressed) tar: its first non-zero
    512-byte block must be a valid tar header, as Go's tar reader's first Next() checks.
    Anything that fails to decompress or parse is just a file, copied as it is."""
    try:
        with _open_data(fd) as raw, _decompressed(raw) as data:
            for _ in range(2):   # Go's reader skips one zero block before it calls it EOF
                block = data.read(tarfile.BLOCKSIZE)
                if len(block) < tarfile.BLOCKSIZE:
                    return False
                if block.count(0) != tarfile.BLOCKSIZE:
                    tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
                    return True
    except Exception:   # any codec's error means "not an archive": zlib, lzma, zstd, tar
        return False
    return False


def extract(fd: int, dest_fd: int, owner: tuple[int, int] | None, name: str) -> None:
    """Unpack the archive open at fd into the directory dest_fd (the Applier's root)."""
    applier = Applier(fs.fd_path(dest_fd), whiteouts="none", owner=owner)
    try:
        with _open_data(fd) as raw, _decompressed(raw) as data, \
                tarfile.open(fileobj=data, mode="r|", errorlevel=2) as tar:
            applier.apply(tar)
    except InvalidArgument as e:   # an entry that would leave the destination, a bad type
        raise BuildError(f"failed to unpack {name}: {e}") from None
    except _codec_errors() as e:   # corrupt or truncated past the header is_archive read
        raise BuildError(f"failed to unpack {name}: {e or 'unexpected EOF'}") from None
    finally:
        applier.close()


def _codec_errors() -> tuple[type[Exception], ...]:
    """What reading a damaged archive raises besides OSError (which the copy reports)."""
    import lzma
    import zlib

    import zstandard
    return (tarfile.TarError, EOFError, ValueError, zlib.error, lzma.LZMAError,
            zstandard.ZstdError)


# --- remote files -----------------------------------------------------------------------

def url_filename(url: str) -> str:
    """The name BuildKit gives a downloaded file: the URL path's last element."""
    path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
    base = posixpath.basename(path.rstrip("/")) if path.strip("/") else ""
    if base in ("", ".", "..") or "\0" in base:
        return "__unnamed__"
    return base


def parse_checksum(checksum: str) -> tuple[str, str] | None:
    """--checksum=ALGO:HEX as go-digest parses it; "" is none."""
    if not checksum:
        return None
    algo, sep, hexpart = checksum.partition(":")
    if not sep or not re.fullmatch(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*", algo) or not hexpart:
        raise BuildError("invalid checksum digest format")
    if algo not in _DIGEST_SIZES:
        raise BuildError("unsupported digest algorithm")
    if len(hexpart) != _DIGEST_SIZES[algo]:
        raise BuildError("invalid checksum digest length")
    if not re.fullmatch(r"[a-f0-9]+", hexpart):
        raise BuildError("invalid checksum digest format")
    return algo, hexpart


def _http_time(value: str) -> float:
    """Last-Modified as Go's http.ParseTime reads it (RFC 1123, RFC 850, asctime); 0 when
    it cannot be read, which BuildKit turns into the epoch too."""
    try:
        when = email.utils.parsedate_to_datetime(value)
        return when.timestamp()
    except (TypeError, ValueError, IndexError):
        pass
    for layout in ("%A, %d-%b-%y %H:%M:%S GMT", "%a %b %d %H:%M:%S %Y"):
        with contextlib.suppress(ValueError):
            import calendar
            return float(calendar.timegm(time.strptime(value.strip(), layout)))
    return 0.0


def fetch_url(url: str, dest_dir: str, *, checksum: str = "",
              timeout: float = 60) -> tuple[str, float]:
    """Download url into dest_dir (a private, empty directory of the caller's) under
    url_filename(url); returns (its path, its mtime). The file is written to a temporary
    name first and renamed only once complete and verified, so a failed download leaves
    nothing a later COPY could pick up."""
    import httpx
    want = parse_checksum(checksum)
    digest = hashlib.new(want[0] if want else "sha256")
    fd, tmp = tempfile.mkstemp(dir=dest_dir, prefix=".download-")
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with httpx.stream("GET", url, follow_redirects=True, timeout=timeout,
                                  headers={"User-Agent": "hull-build"}) as resp:
                    if not 200 <= resp.status_code < 400:
                        raise BuildError(f"failed to load cache key: invalid response status "
                                         f"{resp.status_code} (GET {url})")
                    modified = resp.headers.get("Last-Modified", "")
                    for chunk in resp.iter_bytes(_CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
            except (httpx.HTTPError, httpx.InvalidURL) as e:
                raise BuildError(f'failed to load cache key: Get "{url}": {e}') from None
        if want is not None and digest.hexdigest() != want[1]:
            raise BuildError(f"digest mismatch for {url}: {want[0]}:{digest.hexdigest()} "
                             f"(expected: {checksum})")
        mtime = _http_time(modified) if modified else 0.0
        os.chmod(tmp, 0o600)
        os.utime(tmp, (mtime, mtime))
        path = os.path.join(dest_dir, url_filename(url))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path, mtime
