"""What every handler of one connection shares: the root, and the engine's services for
it made once (the connection's worker keeps them for all its requests)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hull.engine.containers import ContainerService, Supervision
    from hull.engine.images import ImageService


class Context:
    def __init__(self, root: str, state: str, supervision: Supervision) -> None:
        self.root, self.state = root, state
        self.supervision = supervision
        self._containers: ContainerService | None = None
        self._images: ImageService | None = None

    @property
    def containers(self) -> ContainerService:
        if self._containers is None:
            from hull.engine.containers import ContainerService
            self._containers = ContainerService(self.root, self.state)
            self._containers.supervision = self.supervision
        return self._containers

    @property
    def images(self) -> ImageService:
        if self._images is None:
            from hull.engine.images import ImageService
            self._images = ImageService(self.root)
        return self._images
