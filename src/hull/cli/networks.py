"""`hull network create|ls|inspect|rm|prune|connect|disconnect|reload` and `hull port`."""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any


def _service(args: argparse.Namespace) -> Any:
    from hull.engine.containers import ContainerService
    return ContainerService(args.root)


def _pairs(items: list[str] | None) -> dict[str, str]:
    return dict(item.partition("=")[::2] for item in items or [])


def cmd_create(args: argparse.Namespace) -> int:
    from hull.engine import networks
    from hull.errors import InvalidArgument
    if (args.gateway or args.ip_range) and not args.subnet:
        raise InvalidArgument("every ip-range or gateway must have a corresponding subnet")
    subnets = args.subnet or []
    v4 = [s for s in subnets if ":" not in s]
    v6 = [s for s in subnets if ":" in s]
    gateways = args.gateway or []
    gw4 = next((g for g in gateways if ":" not in g), "")
    gw6 = next((g for g in gateways if ":" in g), "")
    net = networks.create(
        _service(args), args.name, driver=args.driver, subnet=v4[0] if v4 else "",
        gateway=gw4, ip_range=(args.ip_range or [""])[0], internal=args.internal,
        ipv6=args.ipv6, subnet6=v6[0] if v6 else "", gateway6=gw6,
        labels=_pairs(args.label), options=_pairs(args.opt))
    print(net.id)
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    from hull.cli.template import print_rows
    from hull.engine import networks
    docs = networks.selected(_service(args), args.filter or [])
    if args.quiet:
        for d in docs:
            print(d["Id"] if args.no_trunc else d["Id"][:12])
        return 0
    rows = [{"ID": d["Id"] if args.no_trunc else d["Id"][:12], "Name": d["Name"],
             "Driver": d["Driver"], "Scope": d["Scope"], "IPv6": str(d["EnableIPv6"]).lower(),
             "Internal": str(d["Internal"]).lower(), "CreatedAt": d["Created"],
             "Labels": ",".join(f"{k}={v}" for k, v in sorted((d.get("Labels") or {}).items()))}
            for d in docs]
    print_rows(args.format or "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}", rows,
               {"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE",
                "IPv6": "IPV6", "Internal": "INTERNAL", "CreatedAt": "CREATED AT",
                "Labels": "LABELS"})
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    from hull.engine import networks
    from hull.errors import HullError, NotFound
    service = _service(args)
    code = 0
    for name in args.names:
        try:
            networks.remove(service, name)
            print(name)
        except NotFound as e:
            if args.force:
                continue
            print(f"Error response from daemon: {e}", file=sys.stderr)
            code = 1
        except HullError as e:
            print(f"Error response from daemon: {e}", file=sys.stderr)
            code = 1
    return code


def cmd_prune(args: argparse.Namespace) -> int:
    from hull.cli.common import confirm
    from hull.engine import networks
    if not args.force and not confirm("WARNING! This will remove all custom networks not "
                                      "used by at least one container."):
        return 0
    gone = networks.prune(_service(args), args.filter)
    if gone:
        print("Deleted Networks:\n" + "\n".join(gone))
    return 0


def cmd_connect(args: argparse.Namespace) -> int:
    from hull.engine import netconnect
    netconnect.connect(_service(args), args.network, args.container,
                       aliases=args.alias or [], ip=args.ip or "", ip6=args.ip6 or "")
    return 0


def cmd_disconnect(args: argparse.Namespace) -> int:
    from hull.engine import netconnect
    netconnect.disconnect(_service(args), args.network, args.container, force=args.force)
    return 0


def cmd_reload(args: argparse.Namespace) -> int:
    from hull.engine import networks
    networks.reload(_service(args))
    return 0


def cmd_port(args: argparse.Namespace) -> int:
    """`hull port CONTAINER [PRIVATE_PORT[/PROTO]]`: the host side of its published ports."""
    from hull.errors import ClientError
    c = _service(args).store.get(args.container)
    ports = (c.state.get("NetworkSettings") or {}).get("Ports") or {} \
        if c.state.get("Running") else {}
    if args.port:
        number, _, proto = args.port.partition("/")
        key = f"{number}/{proto or 'tcp'}"
        if not ports.get(key):
            raise ClientError(f"Error: No public port '{key}' published for {c.name}")
        for b in ports[key]:
            print(_host(b))
        return 0
    for key in sorted(ports, key=lambda k: (int(k.partition("/")[0]), k)):
        for b in ports[key] or []:
            print(f"{key} -> {_host(b)}")
    return 0


def _host(binding: dict[str, str]) -> str:
    ip = binding["HostIp"]
    return f"[{ip}]:{binding['HostPort']}" if ":" in ip else f"{ip}:{binding['HostPort']}"


def register_port(sub: Any) -> None:
    port = sub.add_parser("port", help="List port mappings or a specific mapping for the "
                          "container")
    port.add_argument("container", metavar="CONTAINER")
    port.add_argument("port", nargs="?", metavar="PRIVATE_PORT[/PROTO]")
    port.set_defaults(run=cmd_port)


def register(sub: Any) -> None:
    network = sub.add_parser("network", help="Manage networks")
    nsub = network.add_subparsers(dest="network_command", metavar="COMMAND",
                                  parser_class=type(network))
    create = nsub.add_parser("create", help="Create a network")
    create.add_argument("-d", "--driver", default="bridge",
                        help='Driver to manage the Network (default "bridge")')
    for flag, text in (("--subnet", "Subnet in CIDR format that represents a network "
                        "segment"), ("--gateway", "IPv4 or IPv6 Gateway for the master "
                                     "subnet"),
                       ("--ip-range", "Allocate container ip from a sub-range"),
                       ("--label", "Set metadata on a network"),
                       ("-o", "Set driver specific options")):
        names = [flag] if flag != "-o" else ["-o", "--opt"]
        create.add_argument(*names, action="append", help=text)
    create.add_argument("--internal", action="store_true",
                        help="Restrict external access to the network")
    create.add_argument("--ipv6", action="store_true", help="Enable or disable IPv6 "
                        "networking")
    create.add_argument("--attachable", action="store_true", help="Enable manual container "
                        "attachment (always, for local networks)")
    create.add_argument("name", metavar="NETWORK")
    create.set_defaults(run=cmd_create)
    ls = nsub.add_parser("ls", aliases=["list"], help="List networks")
    ls.add_argument("-q", "--quiet", action="store_true", help="Only display network IDs")
    ls.add_argument("--no-trunc", action="store_true", help="Do not truncate the output")
    ls.add_argument("-f", "--filter", action="append",
                    help='Provide filter values (e.g. "driver=bridge")')
    ls.add_argument("--format", help="Format output using a custom template")
    ls.set_defaults(run=cmd_ls)
    from hull.cli import inspect
    inspect.register(nsub, "network")
    rm = nsub.add_parser("rm", aliases=["remove"], help="Remove one or more networks")
    rm.add_argument("-f", "--force", action="store_true",
                    help="Do not error if the network does not exist")
    rm.add_argument("names", nargs="+", metavar="NETWORK")
    rm.set_defaults(run=cmd_rm)
    prune = nsub.add_parser("prune", help="Remove all unused networks")
    prune.add_argument("-f", "--force", action="store_true",
                       help="Do not prompt for confirmation")
    prune.add_argument("--filter", action="append", help="Provide filter values")
    prune.set_defaults(run=cmd_prune)
    connect = nsub.add_parser("connect", help="Connect a container to a network")
    connect.add_argument("--alias", action="append", help="Add network-scoped alias for the "
                         "container")
    connect.add_argument("--ip", help="IPv4 address (e.g., 172.30.100.104)")
    connect.add_argument("--ip6", help="IPv6 address (e.g., 2001:db8::33)")
    connect.add_argument("network", metavar="NETWORK")
    connect.add_argument("container", metavar="CONTAINER")
    connect.set_defaults(run=cmd_connect)
    disconnect = nsub.add_parser("disconnect", help="Disconnect a container from a network")
    disconnect.add_argument("-f", "--force", action="store_true",
                            help="Force the container to disconnect from a network")
    disconnect.add_argument("network", metavar="NETWORK")
    disconnect.add_argument("container", metavar="CONTAINER")
    disconnect.set_defaults(run=cmd_disconnect)
    reload = nsub.add_parser("reload", help="Rebuild hull's firewall table from the "
                             "engine's networks and published ports (after a ruleset flush)")
    reload.set_defaults(run=cmd_reload)
