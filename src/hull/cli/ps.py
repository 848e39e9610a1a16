"""`hull ps` / `container ls`: the engine picks the containers (hull.engine.listing, Docker's
filters and order); this module prints them as the docker command does — its default
table, -q, --format with Go templates over the same fields Docker's formatter offers
(.ID .Image .Command .CreatedAt .RunningFor .Ports .State .Status .Size .Names .Labels
.Label "k" .Mounts .LocalVolumes .Networks .Platform), `--format json`."""

from __future__ import annotations

import sys
import time

from hull.engine import humanize

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

DEFAULT_FORMAT = ("table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t"
                  "{{.Ports}}\t{{.Names}}")
HEADERS = {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND",
           "CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Ports": "PORTS",
           "State": "STATE", "Status": "STATUS", "Size": "SIZE", "Names": "NAMES",
           "Labels": "LABELS", "Label": "LABEL", "Mounts": "MOUNTS",
           "LocalVolumes": "LOCAL VOLUMES", "Networks": "NETWORKS", "Platform": "PLATFORM"}


def cmd_ps(args: argparse.Namespace) -> int:
    from hull.cli.template import print_rows
    from hull.engine.containers import ContainerService
    from hull.engine.filters import Filters
    from hull.engine.listing import PS_FILTERS, select, summary
    filters = Filters(args.filter, PS_FILTERS)
    fmt = args.format or ""
    if args.quiet and fmt:
        print("WARNING: Ignoring custom format, because both --format and --quiet are set.",
              file=sys.stderr)
    if args.quiet:
        fmt = "{{.ID}}"
    elif fmt in ("", "table"):
        fmt = DEFAULT_FORMAT + ("\t{{.Size}}" if args.size else "")
    elif fmt == "json":
        fmt = "{{json .}}"
    size = not args.quiet and (args.size or ".Size" in fmt)
    last = 1 if args.latest and args.last == -1 else args.last
    service = ContainerService(args.root)
    chosen = select(service, all_=args.all, filters=filters, limit=last)
    rows = [context(service, summary(service, c, size=size), trunc=not args.no_trunc)
            for c in chosen]
    print_rows(fmt, rows, HEADERS)
    return 0


def context(service: Any, s: dict[str, Any], trunc: bool) -> Any:
    """One row as Docker's ContainerContext presents it to a template."""
    from hull.cli.template import Struct
    command = s["Command"]
    mounts = [m.get("Name") or m.get("Source", "") for m in s["Mounts"]]
    labels: dict[str, str] = s.get("Labels") or {}
    row: dict[str, Any] = {
        "Command": go_quote(_ellipsis(command, 20) if trunc else command),
        "CreatedAt": created_at(s["Created"]),
        "ID": s["Id"][:12] if trunc else s["Id"],
        "Image": _image(service, s, trunc),
        "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
        "LocalVolumes": str(sum(1 for m in s["Mounts"] if m.get("Driver") == "local")),
        "Mounts": ",".join(_ellipsis(m, 15) if trunc else m for m in mounts),
        "Names": ",".join(n.lstrip("/") for n in s["Names"]),
        "Networks": ",".join(sorted(s["NetworkSettings"]["Networks"])),
        "Platform": None,
        "Ports": display_ports(s.get("Ports") or []),
        "RunningFor": humanize.ago(s["Created"]),
        "Size": _size(s),
        "State": s["State"],
        "Status": s["Status"],
    }
    row["Label"] = lambda name: labels.get(name, "")   # a method: {{.Label "com.x"}}
    return Struct(row, type_name="*formatter.ContainerContext", json_sorted=True)


def _image(service: Any, s: dict[str, Any], trunc: bool) -> str:
    """The name the container was made with while it still names the same image, else
    the image's ID (short unless --no-trunc)."""
    from hull.errors import HullError
    name = str(s["Image"])
    try:
        same = service.images.resolve(name).id == s["ImageID"]
    except HullError:
        same = False
    if not same:
        image_id = str(s["ImageID"])
        return image_id.removeprefix("sha256:")[:12] if trunc else image_id
    return name


def _size(s: dict[str, Any]) -> str:
    if "SizeRw" not in s:
        return "0B"   # not asked for: Docker's zero sizes
    rw = humanize.size(s["SizeRw"])
    return f"{rw} (virtual {humanize.size(s['SizeRootFs'])})" if s["SizeRootFs"] else rw


def created_at(unix: float) -> str:
    """Go's time.Time.String() of a Unix time in local time: 2024-01-02 15:04:05 +0000 UTC."""
    return time.strftime("%Y-%m-%d %H:%M:%S %z %Z", time.localtime(unix))


def _ellipsis(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def go_quote(text: str) -> str:
    """Go's strconv.Quote: printable characters as they are, the rest escaped."""
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in "\a\b\f\n\r\t\v":
            out.append("\\" + "abfnrtv"["\a\b\f\n\r\t\v".index(ch)])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def register(sub: Any, top: bool) -> None:
    ps = sub.add_parser("ps", aliases=[] if top else ["ls", "list"], help="List containers")
    ps.add_argument("-a", "--all", action="store_true",
                    help="Show all containers (default shows just running)")
    ps.add_argument("-f", "--filter", action="append",
                    help="Filter output based on conditions provided")
    ps.add_argument("--format", help="Format output using a custom template: 'table', "
                    "'table TEMPLATE', 'json', or a Go template")
    ps.add_argument("-n", "--last", type=int, default=-1,
                    help="Show n last created containers (includes all states) (default -1)")
    ps.add_argument("-l", "--latest", action="store_true",
                    help="Show the latest created container (includes all states)")
    ps.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    ps.add_argument("-q", "--quiet", action="store_true", help="Only display container IDs")
    ps.add_argument("-s", "--size", action="store_true", help="Display total file sizes")
    ps.set_defaults(run=cmd_ps)


def display_ports(ports: list[dict[str, Any]]) -> str:
    """The PORTS column as Docker prints it: "0.0.0.0:8080->80/tcp, 53/udp", consecutive
    ports of one address folded into ranges ("0.0.0.0:8000-8001->80-81/tcp")."""
    groups: list[list[dict[str, Any]]] = []
    for p in ports:
        last = groups[-1][-1] if groups else None
        if last is not None and last.get("IP") == p.get("IP") and \
                last["Type"] == p["Type"] and last["PrivatePort"] + 1 == p["PrivatePort"] \
                and ("PublicPort" in p) == ("PublicPort" in last) and \
                ("PublicPort" not in p or last["PublicPort"] + 1 == p["PublicPort"]):
            groups[-1].append(p)
        else:
            groups.append([p])

    def span(first: int, last: int) -> str:
        return str(first) if first == last else f"{first}-{last}"
    out = []
    for g in groups:
        a, b = g[0], g[-1]
        private = span(a["PrivatePort"], b["PrivatePort"])
        if "PublicPort" in a:
            ip = a["IP"]
            host = f"[{ip}]" if ":" in ip else ip
            out.append(f"{host}:{span(a['PublicPort'], b['PublicPort'])}->{private}/"
                       f"{a['Type']}")
        else:
            out.append(f"{private}/{a['Type']}")
    return ", ".join(out)
