"""Docker's seccomp profile format (the JSON `--security-opt seccomp=FILE` takes) turned into
the OCI runtime spec's linux.seccomp.

Docker's format is the OCI one plus conditions: `archMap` instead of `architectures`, and
per-rule `includes`/`excludes` on capabilities and architectures, which decide whether a
rule applies to this container at all. They are resolved here, against the container's
capability set and the host architecture, so the runtime only ever sees plain OCI rules.
"""

from __future__ import annotations

import platform

from hull.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_ARCH = {"x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64"}


def load(path: str) -> dict[str, Any]:
    from hull import fastjson
    try:
        with open(path, "rb") as f:
            profile = fastjson.loads(f.read())
    except OSError as e:
        raise InvalidArgument(f"--security-opt seccomp={path}: {e.strerror}") from None
    except ValueError as e:
        raise InvalidArgument(f"--security-opt seccomp={path}: not JSON ({e})") from None
    if not isinstance(profile, dict) or "defaultAction" not in profile:
        raise InvalidArgument(f"--security-opt seccomp={path}: not a seccomp profile (no "
                              "defaultAction)")
    return profile


def _applies(cond: dict[str, Any] | None, caps: set[str], arch: str, want: bool) -> bool:
    """includes (want=True): every listed condition holds; excludes (want=False): none."""
    if not cond:
        return True
    checks = []
    if cond.get("caps"):
        checks.append(any(c in caps for c in cond["caps"]) if not want
                      else all(c in caps for c in cond["caps"]))
    if cond.get("arches"):
        checks.append(arch in cond["arches"])
    if not checks:
        return True
    return all(checks) if want else not any(checks)


def to_oci(profile: dict[str, Any], caps: list[str]) -> dict[str, Any]:
    arch = _ARCH.get(platform.machine(), "")
    capset = set(caps)
    arches: list[str] = list(profile.get("architectures") or [])
    for entry in profile.get("archMap") or []:
        if entry.get("architecture") == arch:
            arches = [arch, *(entry.get("subArchitectures") or [])]
    rules = []
    for rule in profile.get("syscalls") or []:
        if not _applies(rule.get("includes"), capset, arch, True) or \
                not _applies(rule.get("excludes"), capset, arch, False):
            continue
        names = rule.get("names") or ([rule["name"]] if rule.get("name") else [])
        out: dict[str, Any] = {"names": names, "action": rule["action"]}
        if rule.get("args"):
            out["args"] = rule["args"]
        if rule.get("errnoRet") is not None:
            out["errnoRet"] = rule["errnoRet"]
        rules.append(out)
    spec: dict[str, Any] = {"defaultAction": profile["defaultAction"],
                            "architectures": arches, "syscalls": rules}
    if profile.get("defaultErrnoRet") is not None:
        spec["defaultErrnoRet"] = profile["defaultErrnoRet"]
    return spec
