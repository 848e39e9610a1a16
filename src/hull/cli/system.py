"""`hull info`, `hull version`, `hull system df|prune|info`: what the engine is and holds,
in the shapes the docker command prints (and with the fields its --format templates use:
.ServerVersion .Driver .Containers .CgroupVersion …, .Client.Version .Server.Version)."""

from __future__ import annotations

from hull.engine import humanize

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any


def _format(fmt: str, obj: Any) -> None:
    from hull.cli.template import render
    if fmt == "json":
        fmt = "{{json .}}"
    print(render(fmt, obj))


def cmd_version(args: argparse.Namespace) -> int:
    from hull.engine.about import version_info
    info = version_info()
    if args.format:
        _format(args.format, info)
        return 0
    client, server = info["Client"], info["Server"]
    print(f"Client:\n Version:           {client['Version']}\n"
          f" Python version:    {client['PythonVersion']}\n"
          f" OS/Arch:           {client['Os']}/{client['Arch']}\n"
          f" Context:           default\n\nServer: hull (the engine service of this root)\n"
          f" Engine:\n  Version:          {server['Version']}\n"
          f"  OS/Arch:          {server['Os']}/{server['Arch']}\n"
          f"  Experimental:     false\n hull-runtime:\n  Version:          "
          f"{server['Components'][1]['Version']}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from hull.engine.about import engine_info
    info = engine_info(args.root)
    if args.format:
        _format(args.format, info)
        return 0
    print(f"""Client:
 Version:    {info['ServerVersion']}
 Context:    default
 Debug Mode: false

Server:
 Containers: {info['Containers']}
  Running: {info['ContainersRunning']}
  Paused: {info['ContainersPaused']}
  Stopped: {info['ContainersStopped']}
 Images: {info['Images']}
 Server Version: {info['ServerVersion']}
 Storage Driver: {info['Driver']}
  Backing Filesystem: {info['DriverStatus'][0][1]}
 Logging Driver: {info['LoggingDriver']}
 Cgroup Driver: {info['CgroupDriver']}
 Cgroup Version: {info['CgroupVersion']}
 Plugins:
  Volume: {' '.join(info['Plugins']['Volume'])}
  Network: {' '.join(info['Plugins']['Network'])}
  Log: {' '.join(info['Plugins']['Log'])}
 Swarm: inactive
 Runtimes: {' '.join(info['Runtimes'])}
 Default Runtime: {info['DefaultRuntime']}
 Init Binary: {info['InitBinary']}
 Security Options:
  seccomp
   Profile: builtin
 Kernel Version: {info['KernelVersion']}
 Operating System: {info['OperatingSystem']}
 OSType: {info['OSType']}
 Architecture: {info['Architecture']}
 CPUs: {info['NCPU']}
 Total Memory: {humanize.binary(info['MemTotal'])}
 Name: {info['Name']}
 ID: {info['ID']}
 Docker Root Dir: {info['DockerRootDir']}
 Debug Mode: false
 Experimental: false
 Live Restore Enabled: true
""")
    return 0


# ---- df -----------------------------------------------------------------------------------

DF_HEADERS = {"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE",
              "Reclaimable": "RECLAIMABLE"}


def _share(reclaimable: int, total: int) -> str:
    text = humanize.size(reclaimable, 4)
    return f"{text} ({reclaimable * 100 // total}%)" if total > 0 else text


def df_rows(du: dict[str, Any]) -> list[dict[str, str]]:
    """The four summary rows, computed as Docker's CLI computes them."""
    images, containers, volumes = du["Images"], du["Containers"], du["Volumes"]
    used = sum(i["Size"] - i["SharedSize"] for i in images if i["Containers"])
    total = du["LayersSize"]
    active_states = ("running", "paused", "restarting")
    c_size = sum(c.get("SizeRw", 0) for c in containers)
    c_free = sum(c.get("SizeRw", 0) for c in containers if c["State"] not in active_states)
    v_size = sum(v["UsageData"]["Size"] for v in volumes)
    v_free = sum(v["UsageData"]["Size"] for v in volumes if not v["UsageData"]["RefCount"])
    return [
        {"Type": "Images", "TotalCount": str(len(images)),
         "Active": str(sum(1 for i in images if i["Containers"])),
         "Size": humanize.size(total, 4), "Reclaimable": _share(total - used, total)},
        {"Type": "Containers", "TotalCount": str(len(containers)),
         "Active": str(sum(1 for c in containers if c["State"] in active_states)),
         "Size": humanize.size(c_size, 4), "Reclaimable": _share(c_free, c_size)},
        {"Type": "Local Volumes", "TotalCount": str(len(volumes)),
         "Active": str(sum(1 for v in volumes if v["UsageData"]["RefCount"])),
         "Size": humanize.size(v_size, 4), "Reclaimable": _share(v_free, v_size)},
        _build_cache_row(du["BuildCache"])]


def _build_cache_row(records: list[dict[str, Any]]) -> dict[str, str]:
    size = sum(int(r["Size"]) for r in records)
    active = [r for r in records if r["InUse"]]
    return {"Type": "Build Cache", "TotalCount": str(len(records)), "Active": str(len(active)),
            "Size": humanize.size(size, 4),
            "Reclaimable": humanize.size(size - sum(int(r["Size"]) for r in active), 4)}


def cmd_system_df(args: argparse.Namespace) -> int:
    from hull.cli.template import Struct, print_rows
    from hull.engine.containers import ContainerService
    from hull.engine.diskusage import disk_usage
    service = ContainerService(args.root)
    du = disk_usage(service)
    fmt = args.format or ""
    if not args.verbose:
        fmt = {"": "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t"
               "{{.Reclaimable}}", "json": "{{json .}}"}.get(fmt, fmt)
        print_rows(fmt, [Struct(r, type_name="*formatter.diskUsageContext", json_sorted=True)
                         for r in df_rows(du)], DF_HEADERS)
        return 0
    if fmt:
        from hull.errors import InvalidArgument
        raise InvalidArgument("--format is not supported with --verbose")
    _verbose(service, du)
    return 0


def _verbose(service: Any, du: dict[str, Any]) -> None:
    """`system df -v`: one table per kind, as Docker prints them."""
    from hull.cli import ps
    from hull.cli.template import Struct, print_rows
    print("Images space usage:\n")
    rows = []
    for i in du["Images"]:
        for tag in i["RepoTags"] or ["<none>:<none>"]:
            repo, _, name = tag.rpartition(":")
            rows.append(Struct({"Repository": repo, "Tag": name,
                                "ID": i["Id"].split(":", 1)[1][:12],
                                "CreatedSince": humanize.ago(i["Created"]),
                                "Size": humanize.size(i["Size"]),
                                "SharedSize": humanize.size(i["SharedSize"]),
                                "UniqueSize": humanize.size(i["Size"] - i["SharedSize"], 4),
                                "Containers": str(i["Containers"])}, type_name="image"))
    print_rows("table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t"
               "{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}", rows,
               {"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID",
                "CreatedSince": "CREATED", "Size": "SIZE", "SharedSize": "SHARED SIZE",
                "UniqueSize": "UNIQUE SIZE", "Containers": "CONTAINERS"})
    print("\nContainers space usage:\n")
    print_rows("table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t"
               "{{.RunningFor}}\t{{.Status}}\t{{.Names}}",
               [ps.context(service, {**c, "SizeRootFs": 0}, trunc=True)
                for c in du["Containers"]], ps.HEADERS)
    print("\nLocal Volumes space usage:\n")
    print_rows("table {{.Name}}\t{{.Links}}\t{{.Size}}",
               [Struct({"Name": v["Name"], "Links": str(v["UsageData"]["RefCount"]),
                        "Size": humanize.size(v["UsageData"]["Size"])}, type_name="volume")
                for v in du["Volumes"]], {"Name": "VOLUME NAME", "Links": "LINKS",
                                          "Size": "SIZE"})
    cache = du["BuildCache"]
    print(f"\nBuild cache usage: {humanize.size(sum(int(r['Size']) for r in cache), 4)}\n")
    rows = [Struct({"ID": r["ID"][:12], "Type": r["Type"], "Size": humanize.size(r["Size"]),
                    "Created": humanize.ago(r["CreatedAt"]),
                    "LastUsed": humanize.ago(r["LastUsedAt"]),
                    "Usage": str(r["UsageCount"]), "Shared": str(r["Shared"]).lower()},
                   type_name="cache") for r in cache]
    print_rows("table {{.ID}}\t{{.Type}}\t{{.Size}}\t{{.Created}}\t{{.LastUsed}}\t"
               "{{.Usage}}\t{{.Shared}}", rows,
               {"ID": "CACHE ID", "Type": "CACHE TYPE", "Size": "SIZE", "Created": "CREATED",
                "LastUsed": "LAST USED", "Usage": "USAGE", "Shared": "SHARED"})


def cmd_system_prune(args: argparse.Namespace) -> int:
    from hull.cli.common import confirm
    from hull.engine.filters import Filters
    filters = Filters(args.filter, ("label", "label!", "until"))
    if not args.force:
        volumes = "  - all anonymous volumes not used by at least one container\n" \
            if args.volumes else ""
        images = "all images without at least one container associated to them" \
            if args.all else "all dangling images"
        if not confirm(f"WARNING! This will remove:\n  - all stopped containers\n{volumes}"
                       f"  - {images}\n  - unused build cache\n"):
            return 0
    from hull.engine.containers import ContainerService
    from hull.engine.images import ImageService
    containers = ContainerService(args.root)
    removed, space = containers.prune(filters)
    if removed:
        print("Deleted Containers:\n" + "\n".join(removed) + "\n")
    if args.volumes:
        from hull.cli.volumes import prune_volumes
        gone, volume_space = prune_volumes(containers, all_=False)
        space += volume_space
        if gone:
            print("Deleted Volumes:\n" + "\n".join(gone) + "\n")
    lines, reclaimed = ImageService(args.root).prune(all_images=args.all, filters=filters)
    if lines:
        print("Deleted Images:\n" + "\n".join(lines) + "\n")
    from hull.engine.building import prune as prune_cache
    _, cache_space = prune_cache(containers, args.all, filters.until())
    reclaimed += cache_space
    print(f"Total reclaimed space: {humanize.size(reclaimed + space, 4)}")
    return 0


def register_group(sub: Any) -> None:
    """`hull system …`, and `info`/`version` at the top level."""
    from hull.cli import observe
    system = sub.add_parser("system", help="Manage hull")
    ssub = system.add_subparsers(dest="system_command", metavar="COMMAND",
                                 parser_class=type(system))
    register(sub, ssub)
    sprune = ssub.add_parser("prune", help="Remove unused data")
    sprune.add_argument("-a", "--all", action="store_true",
                        help="Remove all unused images not just dangling ones")
    sprune.add_argument("-f", "--force", action="store_true",
                        help="Do not prompt for confirmation")
    sprune.add_argument("--volumes", action="store_true", help="Prune anonymous volumes")
    sprune.add_argument("--filter", action="append",
                        help='Provide filter values (e.g. "label=<key>=<value>")')
    sprune.set_defaults(run=cmd_system_prune)
    observe.register_system(ssub)


def register(sub: Any, ssub: Any) -> None:
    """`info` and `version` at the top level; `system info|df` under `system`."""
    for parser in (sub.add_parser("info", help="Display system-wide information"),
                   ssub.add_parser("info", help="Display system-wide information")):
        parser.add_argument("-f", "--format", help="Format output using a custom template: "
                            "'json', or a Go template")
        parser.set_defaults(run=cmd_info)
    version = sub.add_parser("version", help="Show the hull version information")
    version.add_argument("-f", "--format", help="Format output using a custom template: "
                         "'json', or a Go template")
    version.set_defaults(run=cmd_version)
    df = ssub.add_parser("df", help="Show hull disk usage")
    df.add_argument("--format", help="Format output using a custom template: 'table', "
                    "'table TEMPLATE', 'json', or a Go template")
    df.add_argument("-v", "--verbose", action="store_true",
                    help="Show detailed information on space usage")
    df.set_defaults(run=cmd_system_df)
