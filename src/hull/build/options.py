"""What a build is asked to do (`hull build`'s flags, as the builder takes them)."""

from __future__ import annotations

from dataclasses import dataclass, field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# build-args every build accepts without an ARG, and never warns about (Docker's list)
PREDEFINED_ARGS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
                   "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy")


@dataclass
class BuildOptions:
    dockerfile: str                         # its text
    dockerfile_name: str = "Dockerfile"     # as shown in errors ("Dockerfile:3")
    context_dir: str | None = None          # None: no context (a Dockerfile on stdin)
    tags: list[str] = field(default_factory=list)
    build_args: dict[str, str] = field(default_factory=dict)
    target: str = ""
    no_cache: bool = False
    pull: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    network: str = "default"
    secrets: dict[str, bytes] = field(default_factory=dict)   # id -> content
    add_hosts: list[str] = field(default_factory=list)
    shm_size: int = 0
    ulimits: list[dict[str, Any]] = field(default_factory=list)
    platform: dict[str, str] = field(default_factory=dict)     # this machine's
    cache_from: list[str] = field(default_factory=list)
    cgroup_parent: str = "/hull"            # RUN steps' cgroups go under it
