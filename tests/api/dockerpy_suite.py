"""docker-py's own integration tests (tests/api/dockerpy: docker==7.1.0's tests/integration,
verbatim) run against a Docker Engine API endpoint, test by test:
{test_id: "passed" | "failed" | "skipped" | "error"}.

They run in a separate pytest (its own rootdir and ini, docker-py's pytest.ini: nothing of
hull's suite is loaded) with a per-test timeout and a junit-xml report, inside a network
namespace with only `lo` (the engine's, or a fresh one), a private HOME and DOCKER_CONFIG,
DOCKER_HOST set to the engine and DOCKER_TEST_API_VERSION to the API version both sides
speak. Before they start, the stand-in images (tests/api/standins.py) are put on the engine
with POST /images/load (by pull if it cannot load); the pulls the tests make themselves go
to wherever the engine pulls from: start it in tests.api.environment, whose registry
mirrors docker.io.

    python -m tests.api.dockerpy_suite --dockerd --out results.json        # own dockerd
    python -m tests.api.dockerpy_suite --host unix:///run/x.sock --netns NAME \\
        --out results.json [-k EXPR] [--compare tests/api/data/dockerpy-dockerd.json]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker  # docker-py (a dev dependency)
from docker.utils import version_lt
from tests.api import standins
from tests.api.environment import (
    clean_env,
    entered,
    environment,
    network_namespace,
    private_dockerd,
)
from tests.api.hullapi import private_hull

HERE = Path(__file__).resolve().parent
SUITE_DIR = HERE / "dockerpy"             # docker-py's pytest.ini and tests/ package
SUITE = "docker-py 7.1.0 tests/integration (a3652028b1ead708bd9191efb286f909ba6c2a49)"
OUTCOMES = ("passed", "failed", "skipped", "error")
TEST_TIMEOUT = 120         # seconds, each test (pytest-timeout, signal method)
RUN_TIMEOUT = 3 * 3600     # the whole run
# The test process gets a mount namespace of its own in which the host's own engine socket,
# if there is one, is covered by /dev/null: docker-py falls back to it whenever DOCKER_HOST
# is lost (credentials/utils_test.py replaces os.environ with a plain dict, for one).
MASK_HOST_SOCKET = ('for s in /run/docker.sock /var/run/docker.sock; do '
                    'if [ -S "$s" ]; then mount --bind /dev/null "$s" || exit 97; fi; done; '
                    'exec "$@"')


def default_paths() -> list[str]:
    """tests/integration in the order docker-py's pinned pytest 7 ran it: a directory's
    files before its subdirectories. pytest 8 interleaves them, which runs
    credentials/utils_test.py (it replaces os.environ, losing DOCKER_HOST) before the
    models_*_test.py files."""
    top = SUITE_DIR / "tests" / "integration"
    files = sorted(p.name for p in top.glob("*_test.py"))
    subdirs = sorted(p.name for p in top.iterdir()
                     if p.is_dir() and any(p.glob("*_test.py")))
    return [f"tests/integration/{n}" for n in [*files, *subdirs]]


@dataclass
class Report:
    outcomes: dict[str, str] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)   # why, for all but passed
    meta: dict[str, Any] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {o: sum(1 for v in self.outcomes.values() if v == o) for o in OUTCOMES}

    def to_json(self) -> dict[str, Any]:
        return {**self.meta, "counts": self.counts(),
                "tests": dict(sorted(self.outcomes.items())),
                "messages": dict(sorted(self.messages.items()))}


def _netns_path(netns: str | Path) -> Path:
    path = Path(netns)
    return path if path.is_absolute() else Path("/run/netns") / path


def negotiate_version(host: str, wanted: str | None = None) -> tuple[str, dict[str, Any]]:
    """The version the tests speak: `wanted`, or the lower of the engine's ApiVersion and
    docker-py's default (1.44)."""
    client = docker.APIClient(base_url=host, version="1.24", timeout=30)
    try:
        info = client.version()
    finally:
        client.close()
    if wanted:
        return wanted, info
    default = docker.constants.DEFAULT_DOCKER_API_VERSION
    engine = str(info.get("ApiVersion", default))
    return (engine if version_lt(engine, default) else default), info


def engine_answers(host: str) -> bool:
    client = docker.APIClient(base_url=host, version="1.24", timeout=10)
    try:
        return bool(client.ping())
    except Exception:
        return False
    finally:
        client.close()


def prepare_images(host: str, version: str, images: list[standins.Image]) -> dict[str, str]:
    """Every stand-in on the engine, by tag: loaded from one docker-archive, or pulled one by
    one where the load fails. Returns {name: "present" | "loaded" | "pulled" | "error: …"}."""
    client = docker.APIClient(base_url=host, version=version, timeout=300)
    state: dict[str, str] = {}
    try:
        def present(image: standins.Image) -> bool:
            try:
                return bool(client.inspect_image(image.name)["Id"] == image.id)
            except docker.errors.APIError:
                return False
        missing = [i for i in images if not present(i)]
        state.update({i.name: "present" for i in images if i not in missing})
        if missing:
            try:    # the engine loads while it streams its progress: read all of it
                for line in client.load_image(standins.docker_archive(missing)):
                    if "error" in line:
                        print(f"dockerpy_suite: /images/load: {line['error']}",
                              file=sys.stderr)
            except docker.errors.APIError as e:
                print(f"dockerpy_suite: /images/load failed ({e}); pulling instead",
                      file=sys.stderr)
        for image in missing:
            if present(image):
                state[image.name] = "loaded"
                continue
            repo, tag = image.name.split(":")
            try:
                client.pull(repo, tag=tag)
                state[image.name] = "pulled" if present(image) else "error: pulled, not there"
            except docker.errors.APIError as e:
                state[image.name] = f"error: {e}"
    finally:
        client.close()
    return state


def _node_id(case: ET.Element) -> str:
    name = case.get("name", "")
    file = case.get("file")
    classname = case.get("classname", "")
    if not file:                        # a collection error: name is the module
        return name
    module = file.removesuffix(".py").replace("/", ".")
    cls = classname.removeprefix(module).lstrip(".")
    return "::".join(p for p in (file, cls, name) if p)


def parse_junit(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    rank = {"skipped": 0, "passed": 1, "failed": 2, "error": 3}
    outcomes: dict[str, str] = {}
    messages: dict[str, str] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        test_id = _node_id(case)
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed"}.get(child.tag, child.tag)
                message = child.get("message") or (child.text or "").strip()
                if child.tag == "skipped" and child.get("type") == "pytest.xfail":
                    message = "xfail: " + message
                break
        if test_id in outcomes and rank[outcomes[test_id]] >= rank[outcome]:
            continue
        outcomes[test_id] = outcome
        if outcome != "passed":
            messages[test_id] = " ".join(message.split())[:400]
    return outcomes, messages


def run_report(host: str, *, netns: str | Path | None = None, keyword: str | None = None,
               api_version: str | None = None, test_timeout: float = TEST_TIMEOUT,
               images: list[standins.Image] | None = None, paths: list[str] | None = None,
               log: Path | None = None, junit: Path | None = None) -> Report:
    """Run the suite against `host` (unix:///… or tcp://127.x:port) from inside `netns`
    (a /run/netns name or path; None: a fresh namespace with only lo)."""
    started = time.monotonic()
    with ExitStack() as stack:
        ns = (_netns_path(netns) if netns is not None
              else stack.enter_context(network_namespace("hull-dockerpy")))
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hull-dockerpy-")))
        with entered(ns):
            version, engine = negotiate_version(host, api_version)
            image_state = prepare_images(host, version, images or standins.build())
        for d in ("home", "docker-config", "cwd"):
            (tmp / d).mkdir()
        # with no config.json docker-py keeps its contexts in ./contexts (the working
        # directory: tmp/cwd, never the repository)
        (tmp / "docker-config" / "config.json").write_text("{}\n")
        xml = junit or tmp / "junit.xml"
        env = clean_env(DOCKER_HOST=host, DOCKER_TEST_API_VERSION=version,
                        HOME=str(tmp / "home"), DOCKER_CONFIG=str(tmp / "docker-config"),
                        PYTHONDONTWRITEBYTECODE="1", TMPDIR=str(tmp))
        env.pop("PYTHONPATH", None)
        argv = ["unshare", "--mount", "--propagation", "slave", "sh", "-c", MASK_HOST_SOCKET,
                "sh", sys.executable, "-m", "pytest", "-c", str(SUITE_DIR / "pytest.ini"),
                "--rootdir", str(SUITE_DIR),
                "-p", "no:cacheprovider", f"--timeout={test_timeout}",
                "--timeout-method=signal", f"--junit-xml={xml}", "-o", "junit_family=xunit1",
                "-o", "junit_logging=no", *(["-k", keyword] if keyword else []),
                *(str(SUITE_DIR / p) for p in paths or default_paths())]
        out = stack.enter_context(open(log, "w")) if log else None
        with entered(ns):
            proc = subprocess.Popen(argv, cwd=tmp / "cwd", env=env, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT if out else None,
                                    start_new_session=True)
        try:
            proc.wait(timeout=RUN_TIMEOUT)
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        outcomes, messages = parse_junit(xml) if xml.exists() else ({}, {})
        if not outcomes:
            raise RuntimeError(f"docker-py's pytest ran nothing (exit {proc.returncode})")
        with entered(ns):
            alive = engine_answers(host)
        if not alive:
            print(f"dockerpy_suite: the engine at {host} no longer answers: the tests after "
                  "it stopped failed for that", file=sys.stderr)
    meta = {
        "suite": SUITE, "host": host,
        "engine": {k: engine.get(k) for k in ("Version", "ApiVersion", "MinAPIVersion",
                                              "Os", "Arch", "KernelVersion")},
        "api_version": version, "test_timeout": test_timeout, "keyword": keyword,
        "paths": paths,
        "images": image_state, "pytest_exit": proc.returncode,
        "engine_answers_after": alive,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "wall_seconds": round(time.monotonic() - started, 1),
    }
    return Report(outcomes, messages, meta)


def run(host: str, **kwargs: Any) -> dict[str, str]:
    """{test_id: outcome} for the suite against `host`; keyword arguments as run_report."""
    return run_report(host, **kwargs).outcomes


@contextmanager
def dockerd_host(bridge: bool = False, workdir: Path | None = None
                 ) -> Iterator[tuple[str, Path, list[standins.Image]]]:
    """A sealed environment with a private dockerd: (DOCKER_HOST, netns, stand-ins)."""
    with environment(workdir) as env, private_dockerd(env, bridge=bridge) as dockerd:
        yield dockerd.host, env.netns, env.images


@contextmanager
def hull_host(workdir: Path | None = None
              ) -> Iterator[tuple[str, Path, list[standins.Image]]]:
    """A sealed environment with hull's API service on a private root (tests/api/hullapi.py):
    (DOCKER_HOST, netns, stand-ins)."""
    with environment(workdir) as env, private_hull(env) as hull:
        yield hull.host, env.netns, env.images


EXCEPTIONS = HERE / "data" / "dockerpy-hull-exceptions.json"


def exceptions() -> dict[str, str]:
    """{test_id: reason} for the tests dockerd passes and hull cannot (tests/api/README.md,
    "hull vs dockerd")."""
    if not EXCEPTIONS.exists():
        return {}
    return {str(k): str(v) for k, v in json.loads(EXCEPTIONS.read_text()).items()}


def compare(reference: dict[str, str], outcomes: dict[str, str]) -> dict[str, list[str]]:
    """Tests by how they moved from `reference` (e.g. dockerd's) to `outcomes`."""
    return {
        "lost": sorted(t for t, o in reference.items()
                       if o == "passed" and outcomes.get(t) not in (None, "passed")),
        "gained": sorted(t for t, o in outcomes.items()
                         if o == "passed" and reference.get(t) not in (None, "passed")),
        "not_run": sorted(t for t in reference if t not in outcomes),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--host", help="the engine: unix:///path.sock or tcp://127.x.y.z:port")
    where.add_argument("--dockerd", action="store_true",
                       help="start a sealed environment and a private dockerd, run, stop")
    where.add_argument("--hull", action="store_true",
                       help="start a sealed environment and hull's API service on a private "
                       "root, run, stop (default --out tests/api/data/dockerpy-hull.json, "
                       "--compare tests/api/data/dockerpy-dockerd.json)")
    parser.add_argument("--netns", help="run the tests in this namespace (/run/netns NAME "
                        "or path; default: a fresh one with only lo)")
    parser.add_argument("--bridge", action="store_true",
                        help="with --dockerd: give dockerd its default bridge (in the netns)")
    parser.add_argument("--workdir", type=Path, help="with --dockerd or --hull: keep the "
                        "environment's files (dockerd.log, hull.log, registry.log, …) in this "
                        "directory")
    parser.add_argument("--out", type=Path, help="results JSON (required but with --hull)")
    parser.add_argument("-k", dest="keyword", help="pytest -k expression")
    parser.add_argument("--api-version", help="DOCKER_TEST_API_VERSION (default: negotiated)")
    parser.add_argument("--timeout", type=float, default=TEST_TIMEOUT, help="per test, s")
    parser.add_argument("--log", type=Path, help="pytest's output to this file")
    parser.add_argument("--junit", type=Path, help="keep the junit xml here")
    parser.add_argument("--compare", type=Path, help="reference results JSON to compare to")
    parser.add_argument("paths", nargs="*", help="test paths under tests/api/dockerpy "
                        "(default tests/integration)")
    args = parser.parse_args()
    if args.hull:
        args.out = args.out or HERE / "data" / "dockerpy-hull.json"
        args.compare = args.compare or HERE / "data" / "dockerpy-dockerd.json"
    if args.out is None:
        parser.error("--out is required (but with --hull)")
    kwargs: dict[str, Any] = dict(keyword=args.keyword, api_version=args.api_version,
                                  test_timeout=args.timeout, paths=args.paths or None,
                                  log=args.log, junit=args.junit)
    with ExitStack() as stack:
        if args.dockerd:
            host, netns, images = stack.enter_context(dockerd_host(args.bridge,
                                                                          args.workdir))
            report = run_report(host, netns=netns, images=images, **kwargs)
        elif args.hull:
            host, netns, images = stack.enter_context(hull_host(args.workdir))
            report = run_report(host, netns=netns, images=images, **kwargs)
        else:
            if args.netns is None:
                print("dockerpy_suite: no --netns: the tests run in a fresh namespace, but the "
                      "pulls they ask for are the engine's: it must mirror docker.io locally "
                      "(tests.api.environment)", file=sys.stderr)
            report = run_report(args.host, netns=args.netns, **kwargs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report.to_json(), indent=1) + "\n")
    counts = report.counts()
    print(f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped, "
          f"{counts['error']} error in {report.meta['wall_seconds']} s -> {args.out}")
    if args.compare:
        moved = compare(json.loads(args.compare.read_text())["tests"], report.outcomes)
        print(f"against {args.compare}: {len(moved['not_run'])} of its tests not run here")
        excused = exceptions() if args.hull else {}
        for what in ("lost", "gained"):
            print(f"{what} ({len(moved[what])}):")
            for t in moved[what]:
                why = f"  [listed: {excused[t][:80]}]" if t in excused else ""
                print(f"  {t}  {report.messages.get(t, '')[:160]}{why}")
        if args.hull:
            unlisted = [t for t in moved["lost"] if t not in excused]
            print(f"lost and not in {EXCEPTIONS.name}: {len(unlisted)}")


if __name__ == "__main__":
    main()
