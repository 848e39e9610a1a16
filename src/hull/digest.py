"""Digests ("sha256:<64 hex>") and the descriptors that carry them (OCI image-spec)."""

from __future__ import annotations

from hull.errors import InvalidArgument
from hull.record import field, record

_HEX = frozenset("0123456789abcdef")


def validate(digest: str) -> str:
    algorithm, sep, hexpart = digest.partition(":")
    if algorithm != "sha256" or not sep or len(hexpart) != 64 or not _HEX.issuperset(hexpart):
        raise InvalidArgument(f"invalid digest {digest!r}: want sha256:<64 lowercase hex>")
    return digest


def of_bytes(data: bytes) -> str:
    import hashlib
    return "sha256:" + hashlib.sha256(data).hexdigest()


@record
class Descriptor:
    media_type: str
    digest: str
    size: int
    annotations: dict[str, str] = field(default_factory=dict)
    platform: dict[str, str] | None = None
    urls: list[str] = field(default_factory=list)

    def to_oci(self) -> dict[str, object]:
        out: dict[str, object] = {"mediaType": self.media_type, "digest": self.digest,
                                  "size": self.size}
        if self.annotations:
            out["annotations"] = self.annotations
        if self.platform:
            out["platform"] = self.platform
        if self.urls:
            out["urls"] = self.urls
        return out

    @classmethod
    def from_oci(cls, raw: dict[str, object], where: str = "descriptor") -> Descriptor:
        try:
            media_type = str(raw.get("mediaType", ""))
            digest = validate(str(raw["digest"]))
            size = raw["size"]
            if not isinstance(size, int) or size < 0:
                raise InvalidArgument(f"{where}.size: expected a non-negative integer")
        except KeyError as e:
            raise InvalidArgument(f"{where}: missing {e.args[0]!r}") from None
        platform = raw.get("platform")
        annotations = raw.get("annotations") or {}
        urls = raw.get("urls")
        return cls(media_type, digest, size,
                   dict(annotations) if isinstance(annotations, dict) else {},
                   dict(platform) if isinstance(platform, dict) else None,
                   [str(u) for u in urls] if isinstance(urls, list) else [])
