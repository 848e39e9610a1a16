"""Typed resources, parsed from OCI linux.resources and validated before anything is created."""

from __future__ import annotations

from hull.errors import InvalidArgument
from hull.record import field, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


@record
class Cpu:
    shares: int | None = None
    quota: int | None = None
    period: int | None = None
    burst: int | None = None
    realtime_runtime: int | None = None
    realtime_period: int | None = None
    cpus: str | None = None
    mems: str | None = None
    idle: int | None = None

    def scheduler_set(self) -> bool:
        """Anything for the cpu controller (cpus/mems belong to cpuset)."""
        return any(v is not None for v in (self.shares, self.quota, self.period, self.burst,
                                           self.realtime_runtime, self.realtime_period,
                                           self.idle))


@record
class Memory:
    limit: int | None = None
    reservation: int | None = None
    swap: int | None = None
    kernel: int | None = None
    kernel_tcp: int | None = None
    swappiness: int | None = None
    disable_oom_killer: bool | None = None
    use_hierarchy: bool | None = None
    check_before_update: bool | None = None

    def any_set(self) -> bool:
        return any(v is not None for v in vars(self).values())


@record
class DeviceRule:
    allow: bool
    type: str = "a"          # a, b, c
    major: int | None = None   # None = wildcard
    minor: int | None = None
    access: str = "rwm"

    def v1_line(self) -> str:
        def num(n: int | None) -> str:
            return "*" if n is None or n < 0 else str(n)
        return f"{self.type} {num(self.major)}:{num(self.minor)} {self.access}"


@record
class ThrottleDevice:
    major: int
    minor: int
    rate: int


@record
class WeightDevice:
    major: int
    minor: int
    weight: int | None = None
    leaf_weight: int | None = None


@record
class BlockIO:
    weight: int | None = None
    leaf_weight: int | None = None
    weight_device: list[WeightDevice] = field(default_factory=list)
    throttle_read_bps: list[ThrottleDevice] = field(default_factory=list)
    throttle_write_bps: list[ThrottleDevice] = field(default_factory=list)
    throttle_read_iops: list[ThrottleDevice] = field(default_factory=list)
    throttle_write_iops: list[ThrottleDevice] = field(default_factory=list)

    def any_set(self) -> bool:
        return self.weight is not None or self.leaf_weight is not None or bool(
            self.weight_device or self.throttle_read_bps or self.throttle_write_bps
            or self.throttle_read_iops or self.throttle_write_iops)


@record
class Resources:
    cpu: Cpu = field(default_factory=Cpu)
    memory: Memory = field(default_factory=Memory)
    pids_limit: int | None = None
    block_io: BlockIO = field(default_factory=BlockIO)
    devices: list[DeviceRule] = field(default_factory=list)
    hugepage_limits: dict[str, int] = field(default_factory=dict)
    net_class_id: int | None = None
    net_priorities: dict[str, int] = field(default_factory=dict)
    unified: dict[str, str] = field(default_factory=dict)


def _int(obj: dict[str, Any], key: str, where: str, minimum: int | None = None) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{where}.{key}: expected an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise InvalidArgument(f"{where}.{key}: {value} is below the minimum {minimum}")
    return value


def _set(value: int | None) -> int | None:
    """0 means "not set" for these fields: runc reads them as Go zero values, and Docker
    and Podman send 0 for every limit the user did not give."""
    return None if value == 0 else value


def _swappiness(value: int | None) -> int | None:
    # -1 (and Go's uint64 wrap of it) means "leave the kernel default", as in runc
    return None if value is None or value == -1 or value >= 2**63 else value


def _bool(obj: dict[str, Any], key: str, where: str) -> bool | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, bool):
        raise InvalidArgument(f"{where}.{key}: expected true or false, got {value!r}")
    return value


def _throttles(items: Any, where: str) -> list[ThrottleDevice]:
    out = []
    for i, item in enumerate(items or []):
        w = f"{where}[{i}]"
        out.append(ThrottleDevice(_int(item, "major", w, 0) or 0, _int(item, "minor", w, 0) or 0,
                                  _int(item, "rate", w, 0) or 0))
    return out


def parse(raw: dict[str, Any] | None, where: str = "linux.resources") -> Resources:
    """Parse OCI linux.resources; raises InvalidArgument naming the offending field."""
    res = Resources()
    if not raw:
        return res
    if not isinstance(raw, dict):
        raise InvalidArgument(f"{where}: expected an object")
    cpu = raw.get("cpu") or {}
    w = f"{where}.cpu"
    res.cpu = Cpu(
        shares=_set(_int(cpu, "shares", w, 0)), quota=_set(_int(cpu, "quota", w)),
        period=_set(_int(cpu, "period", w, 0)), burst=_int(cpu, "burst", w, 0),
        realtime_runtime=_set(_int(cpu, "realtimeRuntime", w)),
        realtime_period=_set(_int(cpu, "realtimePeriod", w, 0)),
        cpus=cpu.get("cpus") or None, mems=cpu.get("mems") or None, idle=_int(cpu, "idle", w),
    )
    if res.cpu.quota is not None and 0 <= res.cpu.quota < 1000:
        raise InvalidArgument(f"{w}.quota: {res.cpu.quota} is below the kernel's minimum 1000 µs")
    if res.cpu.period is not None and not 1000 <= res.cpu.period <= 1_000_000:
        raise InvalidArgument(f"{w}.period: {res.cpu.period} is outside 1000..1000000 µs")
    mem = raw.get("memory") or {}
    w = f"{where}.memory"
    res.memory = Memory(
        limit=_set(_int(mem, "limit", w, -1)),
        reservation=_set(_int(mem, "reservation", w, -1)),
        swap=_set(_int(mem, "swap", w, -1)), kernel=_set(_int(mem, "kernel", w, -1)),
        kernel_tcp=_set(_int(mem, "kernelTCP", w, -1)),
        swappiness=_swappiness(_int(mem, "swappiness", w, -1)),
        disable_oom_killer=_bool(mem, "disableOOMKiller", w),
        use_hierarchy=_bool(mem, "useHierarchy", w),
        check_before_update=_bool(mem, "checkBeforeUpdate", w),
    )
    if res.memory.swappiness is not None and res.memory.swappiness > 100:
        raise InvalidArgument(f"{w}.swappiness: {res.memory.swappiness} is above 100")
    pids = raw.get("pids") or {}
    res.pids_limit = _set(_int(pids, "limit", f"{where}.pids", -1)) if pids else None
    bio = raw.get("blockIO") or {}
    w = f"{where}.blockIO"
    res.block_io = BlockIO(
        weight=_set(_int(bio, "weight", w, 0)), leaf_weight=_set(_int(bio, "leafWeight", w, 0)),
        weight_device=[WeightDevice(_int(d, "major", w, 0) or 0, _int(d, "minor", w, 0) or 0,
                                    _int(d, "weight", w, 0), _int(d, "leafWeight", w, 0))
                       for d in bio.get("weightDevice") or []],
        throttle_read_bps=_throttles(bio.get("throttleReadBpsDevice"),
                                     f"{w}.throttleReadBpsDevice"),
        throttle_write_bps=_throttles(bio.get("throttleWriteBpsDevice"),
                                      f"{w}.throttleWriteBpsDevice"),
        throttle_read_iops=_throttles(bio.get("throttleReadIOPSDevice"),
                                      f"{w}.throttleReadIOPSDevice"),
        throttle_write_iops=_throttles(bio.get("throttleWriteIOPSDevice"),
                                       f"{w}.throttleWriteIOPSDevice"),
    )
    for i, dev in enumerate(raw.get("devices") or []):
        w = f"{where}.devices[{i}]"
        if not isinstance(dev, dict) or not isinstance(dev.get("allow"), bool):
            raise InvalidArgument(f"{w}.allow: required, true or false")
        typ = dev.get("type") or "a"
        if typ not in ("a", "b", "c"):
            raise InvalidArgument(f"{w}.type: unknown device type {typ!r} (want a, b or c)")
        access = dev.get("access") or "rwm"
        if not access or set(access) - set("rwm"):
            raise InvalidArgument(f"{w}.access: {access!r} is not a combination of r, w, m")
        res.devices.append(DeviceRule(dev["allow"], typ, _int(dev, "major", w, -1),
                                      _int(dev, "minor", w, -1), access))
    for i, hp in enumerate(raw.get("hugepageLimits") or []):
        w = f"{where}.hugepageLimits[{i}]"
        size = hp.get("pageSize")
        if not isinstance(size, str) or not size:
            raise InvalidArgument(f"{w}.pageSize: required, e.g. \"2MB\"")
        res.hugepage_limits[size] = _int(hp, "limit", w, 0) or 0
    net = raw.get("network") or {}
    res.net_class_id = _int(net, "classID", f"{where}.network", 0)
    res.net_priorities = {p["name"]: p["priority"] for p in net.get("priorities") or []}
    unified = raw.get("unified") or {}
    if not isinstance(unified, dict) or not all(isinstance(v, str) for v in unified.values()):
        raise InvalidArgument(f"{where}.unified: expected an object of strings")
    res.unified = dict(unified)
    return res
