"""The machinery of test_cli_parity: one case, run as a shell script against hull and
against a private dockerd at once, and the normalization that makes their outputs
comparable.

A case is shell text with `$D` standing for the command line (`hull --root R` on one side,
`docker -H unix://SOCK` on the other). Each side runs `setup`, then `cmd` — the invocation
under test, whose exit code, stdout and stderr are kept —, then `cleanup`, in a fresh
working directory `$T` of its own, with stdin /dev/null and DOCKER_CONFIG pointing into
that directory (so neither client ever reads or writes the host's registry logins).
Afterwards the side lists its containers, volumes and images; whatever the case left
behind beyond the module's baseline is reported as part of the difference, then removed.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

# ---------------------------------------------------------------------------------------
# Normalization: the whole list. Anything not matched here must be equal on both sides.
# ---------------------------------------------------------------------------------------

# absolute times, kept apart by shape so that a different format still shows
TIMESTAMPS = [
    # RFC 3339 (inspect's Created/StartedAt, logs -t, events): fraction and zone vary
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)"), "<RFC3339>"),
    # Go's time.Time.String() (ps {{.CreatedAt}}): "2025-06-01 10:00:00 +0000 UTC"
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? [+-]\d{4} [A-Z]+"), "<GOTIME>"),
    # Unix seconds and nanoseconds (events {{.Time}}, {{.TimeNano}})
    (re.compile(r"(?<![\w.])1\d{18}(?![\w.])"), "<UNIXNANO>"),
    (re.compile(r"(?<![\w.])1\d{9}(?![\w.])"), "<UNIX>"),
]
# relative times as docker's units.HumanDuration writes them (a minute or two at most in
# a test): "Less than a second ago", "Up 3 seconds", "Exited (0) About a minute ago"
DURATION = re.compile(r"Less than a second|About a minute|\b\d+ (?:seconds?|minutes?)\b")
# container (and new image) IDs, full or short; each distinct one becomes <IDn>
HEXID = re.compile(r"(?<![0-9a-f])(?:[0-9a-f]{64}|[0-9a-f]{12})(?![0-9a-f])")
# the program's own name in messages: "docker: Error…", "See 'docker run --help'."
PROGRAM = re.compile(r"\b(?:docker|hull)\b")


def normalize(text: str, paths: dict[str, str], keep: frozenset[str],
              ids: dict[str, str]) -> str:
    """`paths`: this side's own directories → placeholders; `keep`: hex IDs both sides
    share (the baseline images and their layers), left as they are; `ids`: the case's
    ID → <IDn> map, shared by stdout and stderr of one side."""
    for path, name in sorted(paths.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(path, name)

    def _id(m: re.Match[str]) -> str:
        key = m.group(0)[:12]
        if m.group(0) in keep or key in keep:
            return m.group(0)
        return ids.setdefault(key, f"<ID{len(ids) + 1}>")
    text = HEXID.sub(_id, text)   # first: a hex ID may hold ten digits in a row
    for rx, name in TIMESTAMPS:
        text = rx.sub(name, text)
    text, timed = DURATION.subn("<DUR>", text)
    if timed:   # a table's padding follows the width of "Less than a second ago"
        text = re.sub(r"  +", "   ", text)
        text = re.sub(r" +$", "", text, flags=re.M)
    return text


# ---------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------

Shape = Callable[[str], str]


@dataclass(frozen=True)
class Case:
    """`cmd` is compared: exit code always; stdout normalized (or as `shape` reduces it,
    or not at all with out=False); stderr's first line with err=True, otherwise only
    whether stderr is empty (err=None: not at all). `hull`: where hull deliberately
    does better than docker, hull's expected stdout (docker's is still compared against
    `docker`, if given) — `why` says why."""

    name: str
    cmd: str
    setup: str = ""
    cleanup: str = ""
    err: bool | None = False
    out: bool = True
    shape: Shape | None = None
    hull: str | None = None
    hull_rc: int | None = None
    docker: str | None = None
    why: str = ""
    timeout: float = 60


@dataclass
class Side:
    name: str                 # "docker" or "hull"
    cli: str                  # what $D expands to
    area: Path                # per-case working directories live here
    paths: dict[str, str]     # directories of this side shown as placeholders
    restore: str              # shell: bring the baseline images back
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))


@dataclass
class Result:
    rc: int
    out: str
    err: str
    log: str                  # setup and cleanup output, for the failure message
    left: list[str]           # what the case left behind


_SCRIPT = r"""
D="{cli}"
export DOCKER_CONFIG="$H/config"
mkdir -p "$DOCKER_CONFIG"
cd "$T"
exec </dev/null
{{
{setup}
}} >"$H/log" 2>&1
{{
{cmd}
}} >"$H/out" 2>"$H/err"
echo $? >"$H/rc"
{{
{cleanup}
}} >>"$H/log" 2>&1
{{ {state}; }} >"$H/state" 2>/dev/null
"""
# what a side holds; a listing that fails makes the whole state unknown ("@failed")
_STATE = ("{ $D ps -aq --no-trunc && echo @volumes && $D volume ls -q && echo @images && "
          "$D images; } || echo @failed")


def _state(text: str) -> dict[str, set[str]]:
    if "@failed" in text or "@images" not in text:
        return {"containers": {"?"}, "volumes": {"?"}, "images": {"?"}}
    containers, _, rest = text.partition("@volumes\n")
    volumes, _, images = rest.partition("@images\n")
    imgs = {" ".join(line.split()[:3]) for line in images.splitlines()[1:] if line.strip()}
    return {"containers": set(containers.split()), "volumes": set(volumes.split()),
            "images": imgs}


def state(side: Side) -> dict[str, set[str]]:
    out = subprocess.run(["bash", "-c", f'D="{side.cli}"; {_STATE}'], env=side.env,
                         capture_output=True, text=True, timeout=120)
    return _state(out.stdout)


def sweep(side: Side, base: dict[str, set[str]], now: dict[str, set[str]]) -> None:
    """Remove what is there beyond `base`, and bring back the baseline images."""
    script = f'D="{side.cli}"\n'
    if now["containers"] - base["containers"]:
        script += "$D rm -fv " + " ".join(now["containers"] - base["containers"]) + "\n"
    if now["volumes"] - base["volumes"]:
        script += "$D volume rm -f " + " ".join(now["volumes"] - base["volumes"]) + "\n"
    images = []
    for line in now["images"] - base["images"]:
        repo, tag, iid = line.split()
        images.append(iid if "<none>" in (repo, tag) else f"{repo}:{tag}")
    if images:
        script += "$D rmi -f " + " ".join(images) + "\n"
    if not base["images"] <= now["images"]:
        script += side.restore + "\n"
    subprocess.run(["bash", "-c", script], env=side.env, capture_output=True, timeout=120)


def run_side(case: Case, side: Side, work: Path, base: dict[str, set[str]]) -> Result:
    """One side of a case, in the fresh directory `work`; what it left is then removed."""
    harness = work.with_name(work.name + ".h")
    work.mkdir(parents=True)
    harness.mkdir()
    script = _SCRIPT.format(cli=side.cli, setup=case.setup or ":", cmd=case.cmd,
                            cleanup=case.cleanup or ":", state=_STATE)
    env = {**side.env, "T": str(work), "H": str(harness)}
    proc = subprocess.Popen(["bash", "-c", script], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        proc.wait(timeout=case.timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def read(name: str) -> str:
        p = harness / name
        return p.read_text(errors="replace") if p.exists() else ""
    rc_text = read("rc").strip()
    rc = int(rc_text) if rc_text else -999   # -999: the script was killed (case.timeout)
    res = Result(rc, read("out"), read("err"), read("log"), [])
    now = _state(read("state")) if rc_text else state(side)
    if "?" in now["containers"]:
        res.left = ["unknown: listing containers, volumes or images failed"]
    else:
        res.left = [f"{kind}: {x}" for kind in ("containers", "volumes", "images")
                    for x in sorted(now[kind] - base[kind])]
        if now != base:
            sweep(side, base, now)
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(harness, ignore_errors=True)
    return res


class Runner:
    """Runs each case on both sides at once; `view` gives a side's comparable result."""

    def __init__(self, docker: Side, hull: Side, keep: frozenset[str]) -> None:
        self.docker, self.hull = docker, hull
        self.keep = keep
        self.base = {s.name: state(s) for s in (docker, hull)}
        self.seq = 0
        self.pool = ThreadPoolExecutor(2)

    def run(self, case: Case) -> tuple[dict[str, object], dict[str, object]]:
        self.seq += 1
        views = []
        futures = []
        for side in (self.docker, self.hull):
            work = side.area / f"{self.seq:03d}-{case.name}"
            futures.append((side, work, self.pool.submit(
                run_side, case, side, work, self.base[side.name])))
        for side, work, future in futures:
            views.append(self.view(future.result(), {**side.paths, str(work): "<T>"}))
        return views[0], views[1]

    def view(self, res: Result, paths: dict[str, str]) -> dict[str, object]:
        ids: dict[str, str] = {}
        out = normalize(res.out, paths, self.keep, ids)
        err = normalize(res.err, paths, self.keep, ids)
        first = err.splitlines()[0] if err.strip() else ""
        return {"rc": res.rc, "out": out, "err1": PROGRAM.sub("<CLI>", first),
                "err": err, "left": res.left, "log": res.log}

    def close(self) -> None:
        self.pool.shutdown()


def compare(case: Case, d: dict[str, object], h: dict[str, object]) -> list[str]:
    """What differs, one line each ([] when the sides agree)."""
    diffs: list[str] = []
    want_rc = d["rc"] if case.hull_rc is None else case.hull_rc
    if h["rc"] != want_rc:
        diffs.append(f"rc: {'docker' if case.hull_rc is None else 'expected'} {want_rc}, "
                     f"hull {h['rc']}")
    if case.out:
        dout, hout = str(d["out"]), str(h["out"])
        if case.shape is not None:
            dout, hout = case.shape(dout), case.shape(hout)
        if case.docker is not None and dout != case.docker:
            diffs.append(f"docker's stdout is not what the case expects: {dout!r}")
        want = dout if case.hull is None else case.hull
        if hout != want:
            diffs.append(f"stdout: {'docker' if case.hull is None else 'expected'} "
                         f"{want!r}\n        hull   {hout!r}")
    if (case.err is True and d["err1"] != h["err1"]) or \
            (case.err is False and bool(d["err1"]) != bool(h["err1"])):
        diffs.append(f"stderr: docker {d['err1']!r}\n        hull   {h['err1']!r}")
    for side, v in (("docker", d), ("hull", h)):
        if v["left"]:
            diffs.append(f"{side} left behind: {v['left']}")
    return diffs
