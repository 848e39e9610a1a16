"""Engine-wide defaults a user sets once: the environment, else /etc/hull/engine.json
(HULL_ENGINE_CONFIG names another file). hull has no daemon whose flags would hold them;
this file is what `dockerd --userns-remap …` and daemon.json are to Docker."""

from __future__ import annotations

import os

from hull.errors import InvalidArgument


def setting(key: str, env: str) -> str:
    """The value of `key` ("" when unset): $env first, then engine.json."""
    if env in os.environ:
        return os.environ[env]
    path = os.environ.get("HULL_ENGINE_CONFIG", "/etc/hull/engine.json")
    try:
        with open(path, "rb") as f:
            from hull import fastjson
            config = fastjson.loads(f.read())
    except FileNotFoundError:
        return ""
    except (OSError, ValueError) as e:
        raise InvalidArgument(f"{path}: {e}") from None
    value = config.get(key, "") if isinstance(config, dict) else ""
    if not isinstance(value, str):
        raise InvalidArgument(f"{path}: {key!r} must be a string")
    return value
