"""The committed layer's snapshot, copied from the container's rw layer instead of unpacked
from the layer tar just written (commit would otherwise read back every byte it wrote).

The overlay upper dir already is the layer in the snapshotter's own format: whiteouts are
0:0 character devices and opaque directories carry trusted.overlay.opaque, exactly what
unpacking the tar produces. So the tree is copied entry by entry (file data with
copy_file_range, inside the kernel), the init layer's files left out as in the tar, and
the opaque markers set again — the Applier never writes trusted.overlay.* itself.
"""

from __future__ import annotations

import os

from hull.errors import NotFound

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hull.engine.userns import IdMap
    from hull.image.store import ImageStore


def snapshot_from_upper(images: ImageStore, upper: str, parent: str | None, chain: str,
                        skip: tuple[str, ...], ids: IdMap | None = None) -> None:
    """Make snapshot `chain` (on `parent`) hold a copy of upper, without the `skip` paths;
    a remapped container's host owners (ids) become the container's, as in its layer tar."""
    try:
        images.snapshotter.usage(chain)
        return   # the same layer exists already (a commit of identical changes)
    except NotFound:
        pass

    def fill(target: str) -> None:
        from hull.engine.copy import Source, host_side
        from hull.image.layer import Applier
        with host_side() as side:
            source = Source(side, upper + "/.", follow=False)
            try:
                entries = ((info, fd) for info, fd in source.entries(".")
                           if "/" + info.name.removeprefix("./") not in skip)
                applier = Applier(target, whiteouts="none",
                                  ids=ids.to_container if ids is not None else None)
                try:
                    applier.apply_entries(entries)
                finally:
                    applier.close()
            finally:
                source.close()
        _copy_opaque_markers(upper, target)
    images.add_snapshot(chain, parent, fill)


def _copy_opaque_markers(upper: str, target: str) -> None:
    for top, dirs, _, dir_fd in os.fwalk(upper):   # by fd: see image.upper.at
        for name in dirs:
            try:
                if os.getxattr(f"/proc/self/fd/{dir_fd}/{name}", "trusted.overlay.opaque",
                               follow_symlinks=False) != b"y":
                    continue
            except OSError:
                continue
            copy = os.path.join(target, os.path.relpath(os.path.join(top, name), upper))
            try:
                os.setxattr(copy, "trusted.overlay.opaque", b"y", follow_symlinks=False)
            except FileNotFoundError:
                pass   # made by the running container after the copy: not in this layer
