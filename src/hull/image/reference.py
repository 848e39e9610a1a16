"""Image references, normalized the way Docker does: `busybox` is
docker.io/library/busybox:latest, `host:5000/team/app@sha256:…` keeps its registry."""

from __future__ import annotations

import re

from hull.digest import validate
from hull.errors import InvalidArgument
from hull.record import record

DEFAULT_REGISTRY = "docker.io"
_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_HOST = re.compile(r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?\.?)+(?::[0-9]+)?$|"
                   r"^\[[0-9a-fA-F:]+\](?::[0-9]+)?$")


@record
class Reference:
    registry: str
    repository: str          # e.g. library/busybox
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"

    def __str__(self) -> str:
        out = self.name
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out

    def familiar(self) -> str:
        """How Docker prints it: docker.io/library/ dropped."""
        name = self.name
        if self.registry == DEFAULT_REGISTRY:
            name = self.repository.removeprefix("library/")
        return name + (f":{self.tag}" if self.tag else "") + \
            (f"@{self.digest}" if self.digest else "")

    def with_tag(self, tag: str) -> Reference:
        return Reference(self.registry, self.repository, tag, None)


def parse(text: str, default_tag: str | None = "latest") -> Reference:
    if not text or text != text.strip() or any(c.isspace() for c in text):
        raise InvalidArgument("invalid reference format")
    digest = None
    if "@" in text:
        text, digest = text.split("@", 1)
        try:
            validate(digest)
        except InvalidArgument:
            raise InvalidArgument("invalid reference format") from None
    tag = None
    slash = text.rfind("/")
    colon = text.rfind(":")
    if colon > slash:
        text, tag = text[:colon], text[colon + 1:]
        if not _TAG.match(tag):
            raise InvalidArgument("invalid reference format")
    first, sep, rest = text.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost") and _HOST.match(first):
        registry, path = first, rest
    else:
        registry, path = DEFAULT_REGISTRY, text
    if registry in ("index.docker.io", "registry-1.docker.io"):
        registry = DEFAULT_REGISTRY
    if registry == DEFAULT_REGISTRY and "/" not in path:
        path = f"library/{path}"
    if not path or any(not _COMPONENT.match(c) for c in path.split("/")):
        if path and all(_COMPONENT.match(c) for c in path.lower().split("/")):
            raise InvalidArgument(f"invalid reference format: repository name ({path}) "
                                  "must be lowercase")   # Docker's words
        raise InvalidArgument("invalid reference format")
    if tag is None and digest is None:
        tag = default_tag
    return Reference(registry, path, tag, digest)
