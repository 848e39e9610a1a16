"""Where references go: mirrors, the insecure (plain HTTP) registries, from a JSON config
file and the environment.

    {"mirrors": {"docker.io": ["http://127.0.0.1:5000"]},
     "mirror_only": ["docker.io"],
     "insecure": ["registry.lan:5000"]}

`mirror_only` registries are never contacted themselves: a reference that the mirrors do
not have fails instead of falling through to the upstream (what tests and air-gapped hosts
want). File: $HULL_REGISTRIES_CONFIG, else /etc/hull/registries.json. Environment adds to
it: HULL_REGISTRY_MIRRORS="docker.io=http://127.0.0.1:5000,quay.io=…",
HULL_MIRROR_ONLY="docker.io,…" and HULL_INSECURE_REGISTRIES="host:port,…". localhost and
127.0.0.0/8 are always plain HTTP.
"""

from __future__ import annotations

import os

from hull import fastjson
from hull.errors import InvalidArgument
from hull.record import field, record

DEFAULT_PATH = "/etc/hull/registries.json"


@record
class Endpoint:
    host: str       # host[:port] as requests go to it
    scheme: str     # https or http

    @property
    def base(self) -> str:
        return f"{self.scheme}://{self.host}"


@record
class RegistryConfig:
    mirrors: dict[str, list[str]] = field(default_factory=dict)
    insecure: list[str] = field(default_factory=list)
    mirror_only: list[str] = field(default_factory=list)

    def is_insecure(self, host: str) -> bool:
        name = host.rsplit(":", 1)[0] if not host.startswith("[") else host
        return name in ("localhost", "::1", "[::1]") or name.startswith("127.") or \
            host in self.insecure or name in self.insecure

    def endpoints(self, registry: str) -> list[Endpoint]:
        """Mirrors first, then the registry itself (docker.io means registry-1.docker.io)."""
        out = []
        for url in self.mirrors.get(registry, []):
            scheme, _, host = url.partition("://")
            if not host:
                scheme, host = "https", url
            out.append(Endpoint(host.rstrip("/"), scheme))
        if registry in self.mirror_only:
            return out
        host = "registry-1.docker.io" if registry == "docker.io" else registry
        out.append(Endpoint(host, "http" if self.is_insecure(host) else "https"))
        return out

    def upstream(self, registry: str) -> Endpoint:
        """Where a push goes: the registry itself, never a mirror."""
        if registry in self.mirror_only:
            from hull.errors import FailedPrecondition
            raise FailedPrecondition(f"registry {registry} is mirror-only in the registry "
                                     "configuration: not pushing there")
        host = "registry-1.docker.io" if registry == "docker.io" else registry
        return Endpoint(host, "http" if self.is_insecure(host) else "https")


def load(path: str | None = None) -> RegistryConfig:
    path = path or os.environ.get("HULL_REGISTRIES_CONFIG") or DEFAULT_PATH
    cfg = RegistryConfig()
    try:
        with open(path) as f:
            raw = fastjson.loads(f.read())
    except FileNotFoundError:
        raw = {}
    except ValueError as e:
        raise InvalidArgument(f"{path}: malformed JSON: {e}") from None
    if not isinstance(raw, dict):
        raise InvalidArgument(f"{path}: expected a JSON object")
    for registry, urls in (raw.get("mirrors") or {}).items():
        cfg.mirrors[str(registry)] = [str(u) for u in urls]
    cfg.insecure = [str(h) for h in raw.get("insecure") or []]
    cfg.mirror_only = [str(h) for h in raw.get("mirror_only") or []]
    cfg.mirror_only += list(filter(None, os.environ.get("HULL_MIRROR_ONLY", "").split(",")))
    for item in filter(None, os.environ.get("HULL_REGISTRY_MIRRORS", "").split(",")):
        registry, eq, url = item.partition("=")
        if not eq:
            raise InvalidArgument(f"HULL_REGISTRY_MIRRORS: {item!r} is not REGISTRY=URL")
        cfg.mirrors.setdefault(registry, []).insert(0, url)
    cfg.insecure += list(filter(None, os.environ.get("HULL_INSECURE_REGISTRIES", "")
                                .split(",")))
    return cfg
