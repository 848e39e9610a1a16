"""`--cache-from IMAGE`: steps taken from an image built earlier (perhaps elsewhere, then
pulled). An image hull built carries its steps' cache keys in its config (as BuildKit's
inline cache does): a step matches when the image has this step's key next, over the same
layers. For an image without keys (Docker's classic builder made it), the classic
builder's rule is used, but only for a RUN whose history line says all it read (no mounts,
no heredoc file): the image's history up to that point is the build's history so far, over
the same layers, and its next entry is this step — a COPY's history line does not name
its content, so a COPY is never taken that way."""

from __future__ import annotations

from hull.build.state import CACHE_KEYS, Layer
from hull.errors import NotFound

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hull.build.progress import Progress
    from hull.build.state import State
    from hull.image.store import ImageStore


class CacheSources:
    def __init__(self, images: ImageStore, names: list[str], progress: Progress) -> None:
        self.sources: list[tuple[str, list[dict[str, Any]], list[Layer],
                                 list[str | None]]] = []
        for name in names:
            try:
                image = images.resolve(name)
            except NotFound:
                progress.warn(f"--cache-from {name}: no such image here (pull it first); "
                              "not used")
                continue
            from hull.image.manifest import chain_ids
            config = images.config(image)
            diff_ids = images.diff_ids(image)
            layers = [Layer(chain, diff, {"mediaType": d.media_type, "digest": d.digest,
                                          "size": d.size})
                      for chain, diff, d in zip(chain_ids(diff_ids), diff_ids,
                                                images.manifest_of(image).layers,
                                                strict=True)]
            history = list(config.get("history") or [])
            keys = list(config.get(CACHE_KEYS) or [])
            self.sources.append((name, history, layers,
                                 keys if len(keys) == len(history) else []))

    def match(self, state: State, key: str, created_by: str, by_history: bool
              ) -> tuple[str, Layer | None] | None:
        """(source name, its layer — None for an empty one) when a source has this step
        next; None when none has."""
        mine = [h.get("created_by", "") for h in state.history]
        have = [layer.diff_id for layer in state.layers]
        for name, history, layers, keys in self.sources:
            n = len(mine)
            if len(history) <= n:
                continue
            if keys:
                if keys[n] != key:
                    continue
            elif not by_history or history[n].get("created_by", "") != created_by or \
                    [h.get("created_by", "") for h in history[:n]] != mine:
                continue
            nonempty = sum(1 for h in history[:n] if not h.get("empty_layer"))
            if [layer.diff_id for layer in layers[:nonempty]] != have:
                continue
            if history[n].get("empty_layer"):
                return name, None
            if nonempty < len(layers):
                return name, layers[nonempty]
        return None
