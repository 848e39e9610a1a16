"""Credentials in Docker's config.json ($DOCKER_CONFIG/config.json or ~/.docker/config.json,
{"auths": {"host": {"auth": base64("user:pass")}}}), read and written as docker does, and
the bearer-token dance of WWW-Authenticate challenges."""

from __future__ import annotations

import base64
import json
import os
import re

from hull.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_PARAM = re.compile(r'(\w+)="([^"]*)"')


def config_path() -> str:
    base = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return os.path.join(base, "config.json")


def _read() -> dict[str, Any]:
    try:
        with open(config_path()) as f:
            data = json.load(f)
    except FileNotFoundError:
        return {}
    except ValueError as e:
        raise InvalidArgument(f"{config_path()}: malformed JSON: {e}") from None
    return data if isinstance(data, dict) else {}


def _key(host: str) -> str:
    return "https://index.docker.io/v1/" if host in ("docker.io", "registry-1.docker.io") \
        else host


def credentials(host: str) -> tuple[str, str] | None:
    entry = (_read().get("auths") or {}).get(_key(host)) or {}
    encoded = entry.get("auth")
    if not encoded:
        return None
    user, _, password = base64.b64decode(encoded).decode().partition(":")
    return user, password


def store(host: str, user: str, password: str) -> None:
    data = _read()
    data.setdefault("auths", {})[_key(host)] = {
        "auth": base64.b64encode(f"{user}:{password}".encode()).decode()}
    _write(data)


def forget(host: str) -> bool:
    data = _read()
    removed = (data.get("auths") or {}).pop(_key(host), None) is not None
    if removed:
        _write(data)
    return removed


def _write(data: dict[str, Any]) -> None:
    path = config_path()
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent="\t")
    os.replace(tmp, path)


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """'Bearer realm="…",service="…",scope="…"' → ("bearer", {realm, service, scope})."""
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), dict(_PARAM.findall(rest))
