"""`inspect` (any object: container, then image, then volume), `container inspect`,
`image inspect`, `volume inspect`: Docker's JSON array, or one line per object through
-f/--format. Errors as Docker's: a missing object is named on stderr and the rest still
printed (exit 1); a template that does not parse exits 64, one that fails on an object 1."""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable
    from typing import Any

TYPES = ("config", "container", "image", "network", "node", "plugin", "secret", "service",
         "task", "volume")


def _lookups(args: argparse.Namespace, kind: str | None
             ) -> list[tuple[str, Callable[[str], dict[str, Any]]]]:
    from hull.engine.containers import ContainerService
    from hull.engine.images import ImageService
    service = ContainerService(args.root)
    every = {"container": lambda n: service.inspect(n, size=getattr(args, "size", False)),
             "image": ImageService(args.root).inspect, "volume": service.volumes.inspect,
             "network": lambda n: _network(service, n)}
    if kind is None:
        return list(every.items())
    return [(kind, every[kind])] if kind in every else []


def _network(service: Any, name: str) -> dict[str, Any]:
    from hull.engine import networks
    return networks.inspect(service, name)


def _missing(kind: str | None, name: str) -> str:
    if kind is None:
        return f"Error: No such object: {name}"
    if kind == "image":
        from hull.engine.images import _familiar
        return f"Error response from daemon: no such image: {name}: No such image: " \
            f"{_familiar(name)}"
    if kind == "volume":
        return f"Error response from daemon: get {name}: no such volume"
    if kind == "network":
        return f"Error response from daemon: network {name} not found"
    return f"Error response from daemon: No such {kind}: {name}"


def inspect_objects(args: argparse.Namespace, kind: str | None) -> int:
    from hull.errors import NotFound
    if kind is not None and kind not in TYPES:
        from hull.errors import ClientError
        raise ClientError(f'unknown type: "{kind}": must be one of '
                          + ", ".join(f'"{t}"' for t in TYPES))
    template = _parse(args.format) if args.format else None
    lookups = _lookups(args, kind)
    found, code = [], 0
    for name in args.names:
        for _, lookup in lookups:
            try:
                found.append(lookup(name))
                break
            except NotFound:
                continue
        else:
            print(_missing(kind, name), file=sys.stderr)
            code = 1
    return print_objects(found, template) or code


def _parse(fmt: str) -> Any:
    """A --format of inspect: 'json' is {{json .}}; a parse error exits 64."""
    from hull.cli.gotemplate import FormatParseError, ParseError, parse
    from hull.cli.gotemplate.funcs import BASIC_FUNCS
    if fmt == "json":
        fmt = "{{json .}}"
    try:
        return parse(fmt, BASIC_FUNCS)
    except ParseError as e:
        raise FormatParseError(f"template parsing error: {e}") from None


# fields of Docker's inspect types that are Go maps (sorted in {{json}}, a missing key
# prints <no value>); every other object is a struct. By the parent's key where the same
# name is a map in one place and a struct in another (LogConfig.Config vs Config).
_MAPS = frozenset({"Labels", "Options", "DriverOpts", "Networks", "Ports", "ExposedPorts",
                   "Volumes", "Tmpfs", "Sysctls", "StorageOpt", "Data", "Annotations",
                   "Attributes", "PortBindings"})
_MAP_IN = {"LogConfig": "Config"}
# pointer fields tagged omitempty: <nil> in a template, absent from {{json}}
_NIL_FIELDS = {"State": {"Health": "*types.Health"}, "": {"SizeRw": "*int64",
                                                           "SizeRootFs": "*int64"}}


def as_go(value: Any, key: str = "", parent: str = "") -> Any:
    """An inspect object as Docker's typed structs: what `-f` sees first."""
    from hull.cli.template import Struct, TypedNil
    if isinstance(value, list):
        return [as_go(v, key, parent) for v in value]
    if not isinstance(value, dict):
        return value
    if key in _MAPS or _MAP_IN.get(parent) == key:
        return {k: as_go(v, k, key) for k, v in value.items()}
    fields = {k: as_go(v, k, key) for k, v in value.items()}
    nils = _NIL_FIELDS.get(key, {})
    for name, kind in nils.items():
        fields.setdefault(name, TypedNil(kind))
    return Struct(fields, type_name=f"*types.{key or 'ContainerJSON'}",
                  omitempty=frozenset(nils))


def print_objects(found: list[dict[str, Any]], template: Any) -> int:
    """Docker's indented JSON array, or the template once per object: on Docker's typed
    structs first, and where that fails on the raw JSON with missing keys an error (Docker's
    own fallback); a failure ends the output, exit 1, after the partial line."""
    if template is None:
        import json
        print(json.dumps(found, indent=4, ensure_ascii=False))
        return 0
    from hull.cli.gotemplate import TemplateError
    for obj in found:
        try:
            print(template.execute(as_go(obj)))
            continue
        except TemplateError:
            pass
        out: list[str] = []
        error = template.write(out, obj, missingkey="error")
        print("".join(out))
        if error is not None:
            print(f"template parsing error: {error}", file=sys.stderr)
            return 1
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    return inspect_objects(args, args.type)


def register(sub: Any, kind: str | None) -> None:
    """`inspect` (kind None: any object, --type to choose) or `KIND inspect`."""
    name = "inspect"
    p = sub.add_parser(name, help=f"Display detailed information on one or more {kind}s"
                       if kind else "Return low-level information on hull objects")
    p.add_argument("-f", "--format", help="Format output using a custom template: 'json', "
                   "or a Go template")
    if kind in (None, "container"):
        p.add_argument("-s", "--size", action="store_true",
                       help="Display total file sizes" + (" if the type is container"
                                                          if kind is None else ""))
    if kind is None:
        p.add_argument("--type", help="Only inspect objects of the given type")
    p.add_argument("names", nargs="+", metavar="NAME|ID")
    p.set_defaults(run=cmd_inspect, type=kind)
