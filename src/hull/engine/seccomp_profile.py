"""Docker's seccomp profile format (the JSON `--security-opt seccomp=FILE` takes) turned into
the OCI runtime spec's linux.seccomp.

Docker's format is the OCI one plus conditions: `archMap` instead of `architectures`, and
per-rule `includes`/`excludes` on capabilities and architectures, which decide whether a
rule applies to this container at all. They are resolved here, against the container's
capability set and the host architecture, so the runtime only ever sees plain OCI rules.
"""

from __future__ import annotations

from hull.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_ARCH = {"x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64"}
# Docker's includes/excludes name architectures as Go does (runtime.GOARCH)
_GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "i686": "386", "armv7l": "arm"}


def load(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise InvalidArgument(f"--security-opt seccomp={path}: {e.strerror}") from None
    return parse(data, path)


def parse(data: bytes | str, source: str) -> dict[str, Any]:
    """A profile's JSON, checked enough that a typo is refused at create, not at start."""
    from hull import fastjson
    try:
        profile = fastjson.loads(data)
    except ValueError as e:
        raise InvalidArgument(f"--security-opt seccomp={source}: not JSON ({e})") from None
    if not isinstance(profile, dict) or "defaultAction" not in profile:
        raise InvalidArgument(f"--security-opt seccomp={source}: not a seccomp profile (no "
                              "defaultAction)")
    for rule in profile.get("syscalls") or []:
        if not isinstance(rule, dict) or "action" not in rule:
            raise InvalidArgument(f"--security-opt seccomp={source}: a syscalls entry has "
                                  "no action")
    return profile


def for_container(security_opts: list[str], caps: list[str]) -> dict[str, Any] | None:
    """The OCI linux.seccomp of a container: its own profile (kept inline in SecurityOpt
    since create), none for seccomp=unconfined, else hull's default."""
    from hull.engine.securityopt import security_opt
    chosen = security_opt(security_opts, "seccomp")
    if chosen == "unconfined":
        return None
    if chosen:
        profile = parse(chosen, "(stored profile)") if chosen.lstrip().startswith("{") \
            else load(chosen)
    else:
        from hull.engine import seccomp_default
        profile = seccomp_default.profile()
    return to_oci(profile, caps)


def warn_unknown_syscalls(profile: dict[str, Any], source: str) -> None:
    """Names no architecture of the profile knows are skipped when the filter is built (as
    Docker does); say so once, here, so a misspelt name is not silently ignored. Calls
    newer than the host's libseccomp (the default profile names some) are skipped quietly:
    they are real, and the kernel here may not have them either."""
    from hull.engine import seccomp_default
    from hull.linux import seccomp
    if not seccomp.available():
        return
    real = seccomp_default.all_names()
    arches = list(profile.get("architectures") or [])
    arches += [a for m in profile.get("archMap") or []
               for a in [m.get("architecture"), *(m.get("subArchitectures") or [])] if a]
    unknown = sorted({name for rule in profile.get("syscalls") or []
                      for name in rule.get("names") or ([rule["name"]] if rule.get("name")
                                                        else [])
                      if name not in real and not seccomp.known_syscall(name, arches)})
    if unknown:
        import sys
        print(f"WARNING: seccomp profile {source}: unknown syscall(s) skipped: "
              f"{', '.join(unknown)}", file=sys.stderr)


def _kernel_at_least(version: str) -> bool:
    import os

    def numbers(text: str) -> tuple[int, ...]:
        return tuple(int(p) for p in text.split("-")[0].split(".")[:2] if p.isdigit())
    return numbers(os.uname().release) >= numbers(version)


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
    if cond.get("minKernel"):
        checks.append(_kernel_at_least(cond["minKernel"]))
    if not checks:
        return True
    return all(checks) if want else not any(checks)


def to_oci(profile: dict[str, Any], caps: list[str]) -> dict[str, Any]:
    import os
    machine = os.uname().machine
    arch, goarch = _ARCH.get(machine, ""), _GOARCH.get(machine, machine)
    capset = set(caps)
    arches: list[str] = list(profile.get("architectures") or [])
    for entry in profile.get("archMap") or []:
        if entry.get("architecture") == arch:
            arches = [arch, *(entry.get("subArchitectures") or [])]
    rules = []
    for rule in profile.get("syscalls") or []:
        if not _applies(rule.get("includes"), capset, goarch, True) or \
                not _applies(rule.get("excludes"), capset, goarch, False):
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
