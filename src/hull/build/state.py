"""A build's state between instructions — the image being made: its layers, its config, its
history, the ARGs in scope — and the image config and history entries Docker's BuildKit
writes for it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from hull.build.cache import key_of

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_SHELL = ["/bin/sh", "-c"]
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HISTORY_COMMENT = "buildkit.dockerfile.v0"


@dataclass
class Layer:
    chain: str
    diff_id: str
    descriptor: dict[str, Any]   # as the manifest lists it (mediaType, digest, size)


@dataclass
class State:
    key: str                                        # the cache key of everything so far
    layers: list[Layer] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)   # the image config's "config"
    history: list[dict[str, Any]] = field(default_factory=list)
    platform: dict[str, str] = field(default_factory=dict)
    base: str = "scratch"                           # the base image's ID, for why-missed
    base_name: str = "scratch"
    meta: list[str] = field(default_factory=list)   # metadata instructions since the last
    args: dict[str, str | None] = field(default_factory=dict)   # layer; ARGs in scope
    cmd_set: bool = False                           # CMD given in this stage
    author: str = ""                                # MAINTAINER
    step_keys: list[str | None] = field(default_factory=list)   # per history entry:
    # the cache key of the step that made it (None: not a step of a hull build)

    @property
    def chain(self) -> str | None:
        return self.layers[-1].chain if self.layers else None

    def copy(self) -> State:
        return State(self.key, list(self.layers), _deep(self.config), list(self.history),
                     dict(self.platform), self.base, self.base_name, list(self.meta),
                     dict(self.args), self.cmd_set, self.author,
                     list(self.step_keys))

    def to_json(self) -> dict[str, Any]:
        """The state as JSON (a stage built in another process sends it back)."""
        from dataclasses import asdict
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> State:
        fields = dict(data)
        fields["layers"] = [Layer(**layer) for layer in fields.get("layers") or []]
        return cls(**fields)

    # ---- what instructions see -----------------------------------------------------------

    def env_list(self) -> list[str]:
        return list(self.config.get("Env") or [])

    def env(self) -> dict[str, str]:
        """Variables for expanding an instruction's values: the ARGs in scope, then ENV
        (which wins over an ARG of the same name, as in BuildKit)."""
        out = {k: v for k, v in self.args.items() if v is not None}
        for item in self.env_list():
            k, _, v = item.partition("=")
            out[k] = v
        return out

    def run_env(self) -> list[str]:
        """RUN's environment: ENV, plus the ARGs in scope that ENV does not set."""
        env = self.env_list()
        names = {e.partition("=")[0] for e in env}
        if "PATH" not in names:
            env = [f"PATH={DEFAULT_PATH}", *env]
        return env + [f"{k}={v}" for k, v in self.args.items()
                      if v is not None and k not in names]

    def set_env(self, name: str, value: str) -> None:
        env = [e for e in self.env_list() if e.partition("=")[0] != name]
        self.config["Env"] = [*env, f"{name}={value}"]

    def shell(self) -> list[str]:
        return list(self.config.get("Shell") or DEFAULT_SHELL)

    # ---- changing it ---------------------------------------------------------------------

    def metadata(self, created_by: str, summary: str) -> None:
        """A config-only instruction: an empty_layer history entry and a new key."""
        # the time of the entry before it: metadata does not make a rebuild differ
        created = str(self.history[-1].get("created") or now()) if self.history else now()
        self.history.append({**history_entry(created_by, empty=True), "created": created})
        self.key = key_of(self.key, summary)
        self.step_keys.append(None)
        self.meta.append(summary)

    def add_layer(self, key: str, layer: Layer, created_by: str, created: str) -> None:
        self.layers.append(layer)
        self.history.append({**history_entry(created_by), "created": created})
        self.step_keys.append(key)
        self.key = key
        self.meta = []


def history_entry(created_by: str, empty: bool = False) -> dict[str, Any]:
    return {"created": now(), "created_by": created_by, "comment": HISTORY_COMMENT,
            **({"empty_layer": True} if empty else {})}


def now() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


def image_config(state: State) -> dict[str, Any]:
    """The OCI image config of the final state, as BuildKit's exporter writes it."""
    config = {k: v for k, v in state.config.items() if v not in (None, [], {})
              or (k in ("Cmd", "Entrypoint") and v == [])}
    if state.config.get("Cmd") is None:
        config.pop("Cmd", None)
    platform = state.platform
    return {"architecture": platform.get("architecture", "amd64"),
            **({"variant": platform["variant"]} if platform.get("variant") else {}),
            "os": platform.get("os", "linux"),
            "created": str(state.history[-1].get("created") or now()) if state.history
            else now(),
            **({"author": state.author} if state.author else {}),
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in state.layers]},
            "history": state.history,
            # the steps' cache keys, for `--cache-from` this image (BuildKit keeps its own
            # in the config too, as inline cache metadata)
            CACHE_KEYS: state.step_keys}


CACHE_KEYS = "hull.build.cache-keys"


def _deep(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep(v) for v in value]
    return value
