"""What the builder asks of whoever runs a RUN step's process (DESIGN.md: the builder is
engine-free; the engine supplies a StepRunner with its security defaults, cgroups and
networking). The builder has already mounted the step's rootfs and made its extra mounts'
sources; the runner makes the container around them, streams its output, and returns the
exit code once every process of the step is gone."""

from __future__ import annotations

from dataclasses import dataclass, field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Protocol
else:
    Protocol = object


@dataclass
class StepSpec:
    rootfs: str                       # the step's rootfs, mounted (its upper dir is the layer)
    args: list[str]
    env: list[str]
    user: str = ""                    # USER as written: name or uid[:gid]
    cwd: str = "/"
    hostname: str = "buildkitsandbox"  # what BuildKit's RUN sees, scripts print it
    network: str = "default"          # RUN --network / build --network: default|none|host
    mounts: list[dict[str, Any]] = field(default_factory=list)   # OCI mounts (--mount=…)
    extra_hosts: list[str] = field(default_factory=list)         # build --add-host
    shm_size: int = 0
    ulimits: list[dict[str, Any]] = field(default_factory=list)   # Docker's Ulimits shape
    cgroup_parent: str = ""


class StepRunner(Protocol):
    def run(self, spec: StepSpec, output: Callable[[bytes], None]) -> int:
        """Run the step; output gets its stdout and stderr as they come. Returns the
        shell-style exit code; raises on a step that could not be started."""
        ...
