"""`--cache-from IMAGE`: steps taken from an image built earlier (perhaps elsewhere, then
pulled), as Docker's classic builder does it — a step matches when the image's history up
to that point is the build's history so far (the same instructions, same values, in the
same order) over the same layers, and the image's next history entry is this step; its
layer is then the step's result."""

from __future__ import annotations

from hull.build.state import Layer
from hull.errors import NotFound

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hull.build.progress import Progress
    from hull.build.state import State
    from hull.image.store import ImageStore


class CacheSources:
    def __init__(self, images: ImageStore, names: list[str], progress: Progress) -> None:
        self.sources: list[tuple[str, list[dict[str, Any]], list[Layer]]] = []
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
            self.sources.append((name, list(config.get("history") or []), layers))

    def match(self, state: State, created_by: str) -> tuple[str, Layer | None] | None:
        """(source name, its layer — None for an empty one) when a source has this step
        next; None when none has."""
        mine = [h.get("created_by", "") for h in state.history]
        have = [layer.diff_id for layer in state.layers]
        for name, history, layers in self.sources:
            if len(history) <= len(mine) or \
                    [h.get("created_by", "") for h in history[:len(mine)]] != mine:
                continue
            nonempty = sum(1 for h in history[:len(mine)] if not h.get("empty_layer"))
            if [layer.diff_id for layer in layers[:nonempty]] != have:
                continue
            entry = history[len(mine)]
            if entry.get("created_by", "") != created_by:
                continue
            if entry.get("empty_layer"):
                return name, None
            if nonempty < len(layers):
                return name, layers[nonempty]
        return None
