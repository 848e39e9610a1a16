"""--security-opt values as stored in HostConfig.SecurityOpt: KEY=VALUE (or Docker's older
KEY:VALUE), read by the few places that act on one (seccomp, no-new-privileges,
systempaths)."""

from __future__ import annotations


def security_opt(opts: list[str], key: str) -> str | None:
    """The value of one --security-opt key ("" for a bare flag), None when absent."""
    for raw in opts:
        k, _, v = split_opt(raw)
        if k == key:
            return v
    return None


def split_opt(raw: str) -> tuple[str, str, str]:
    """KEY=VALUE, or the older KEY:VALUE docker still accepts."""
    cut = min((i for i in (raw.find("="), raw.find(":")) if i >= 0), default=-1)
    if cut < 0:
        return raw, "", ""
    return raw[:cut], raw[cut], raw[cut + 1:]
