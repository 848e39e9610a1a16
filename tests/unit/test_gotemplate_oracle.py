"""hull's Go-template engine against real Go: every case of test_gotemplate.CASES that Go
can take (JSON data, features of Go 1.19) and every table of ROW_CASES runs through the
program in gotemplate_oracle/ — Go's text/template with Docker's functions and Docker's
table formatter — and must give the same output and the same error text.

The program is built once per session (Debian's golang-go; GOCACHE under ~/.cache); the
tests skip if `go` is not installed.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_gotemplate import CASES, Case, run

from hull.cli.gotemplate import ExecError, ParseError
from hull.cli.template import print_rows

ORACLE = Path(__file__).parent / "gotemplate_oracle"
HEADERS = {"ID": "CONTAINER ID", "Image": "IMAGE", "Names": "NAMES", "Status": "STATUS",
           "Size": "SIZE"}
ROWS = [{"ID": "4f2b1c9d8e7a", "Image": "busybox", "Names": "web", "Status": "Up 3 seconds",
         "Size": "0B"},
        {"ID": "a1", "Image": "registry.example.com:5000/team/app:1.0", "Names": "db",
         "Status": "Exited (0) 2 minutes ago", "Size": "1.2kB"}]

# (format, rows): a listing command's --format as docker/cli's formatter lays it out.
ROW_CASES: list[tuple[str, list[dict[str, Any]]]] = [
    (r"table {{.ID}}\t{{.Image}}\t{{.Names}}", ROWS),
    ("table {{.ID}}\t{{.Status}}", ROWS),
    (r"table {{.ID}}\t{{.Names}}", []),
    (r"{{.ID}}\t{{.Names}}", ROWS),
    ("{{.ID}}: {{.Names}}", ROWS),
    (r"  {{.Names}}\n{{.Size}}  ", ROWS),
    ("json", ROWS),
    ("{{json .}}", ROWS),
    (r"table {{upper .Names}}\t{{json .ID}}\t{{lower .Image}}\t{{truncate .Status 3}}", ROWS),
    (r"table {{pad .Names 2 2}}|\t{{.Size}}", ROWS),
    (r"table {{.Names}}\t{{.Size}}\t", ROWS),
    (r"table {{.Names}}\t\t{{.Size}}", ROWS),
    (r"table {{.Names}}\t{{if eq .Names `web`}}{{.Status}}{{end}}", ROWS),
    (r"table {{.Names}}\t{{.Nope}}", []),
    ("table", ROWS),
    (r"table {{.Names}}\t{{.Image | split}}", ROWS),
    (r"{{.ID}}\t{{.Names", ROWS),
    (r"{{index .Names 9}}", ROWS),
]


@pytest.fixture(scope="session")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = shutil.which("go")
    if go is None:
        pytest.skip("golang-go is not installed (scripts/install installs it)")
    cache = Path.home() / ".cache" / "hull" / "gotemplate-oracle"
    env = {**os.environ, "GOCACHE": str(cache / "gocache"), "GOPATH": str(cache / "gopath"),
           "GO111MODULE": "off", "GOTOOLCHAIN": "local", "GOPROXY": "off", "GOFLAGS": ""}
    binary = tmp_path_factory.mktemp("gotemplate-oracle") / "oracle"
    subprocess.run([go, "build", "-o", str(binary), "main.go"], cwd=ORACLE, env=env,
                   check=True, capture_output=True, timeout=600)
    return binary


def ask(binary: Path, requests: list[dict[str, Any]]) -> list[dict[str, str]]:
    proc = subprocess.run([str(binary)], input="".join(json.dumps(r) + "\n" for r in requests),
                          capture_output=True, text=True, check=True, timeout=120)
    return [json.loads(line) for line in proc.stdout.splitlines()]


GO_CASES = [c for c in CASES if c.go is None]


@pytest.fixture(scope="session")
def go_results(oracle: Path) -> list[dict[str, str]]:
    return ask(oracle, [{"template": c.template, "data": c.data,
                         "missingkey": "" if c.missingkey == "default" else c.missingkey}
                        for c in GO_CASES])


@pytest.mark.parametrize("index", range(len(GO_CASES)),
                         ids=[f"{i}:{c.template[:40]}" for i, c in enumerate(GO_CASES)])
def test_engine_agrees_with_go(go_results: list[dict[str, str]], index: int) -> None:
    case: Case = GO_CASES[index]
    out, error = run(case)
    go = go_results[index]
    assert (out, error or "") == (go["out"], go["err"])


def test_cases_not_checked_by_go_say_why() -> None:
    skipped = [c for c in CASES if c.go is not None]
    assert all(c.go for c in skipped)
    assert len(GO_CASES) > 4 * len(skipped)


def _print_rows(fmt: str, rows: list[dict[str, Any]]) -> tuple[str, str]:
    buf = io.StringIO()
    try:
        print_rows(fmt, rows, HEADERS, buf)
    except (ParseError, ExecError) as e:
        return buf.getvalue(), str(e)
    return buf.getvalue(), ""


@pytest.mark.parametrize("fmt,rows", ROW_CASES, ids=[f for f, _ in ROW_CASES])
def test_tables_agree_with_docker_formatter(oracle: Path, fmt: str,
                                            rows: list[dict[str, Any]]) -> None:
    [go] = ask(oracle, [{"format": fmt, "rows": rows, "header": HEADERS}])
    assert _print_rows(fmt, rows) == (go["out"], go["err"])
