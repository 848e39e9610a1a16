"""docker-py's own integration tests (7.1.0, tests/api/dockerpy) against hull's API in a
sealed network namespace: every test that passes against a private dockerd on this machine
(tests/api/data/dockerpy-dockerd.json, recorded by `python -m tests.api.dockerpy_suite
--dockerd`) must pass against hull, but for those listed with their reason in
tests/api/data/dockerpy-hull-exceptions.json (swarm, plugins, legacy links, …)."""

from __future__ import annotations

import json
import shutil

import pytest
from tests.api import dockerpy_suite

pytestmark = [pytest.mark.root, pytest.mark.clients]


def test_hull_passes_what_dockerd_passes() -> None:
    if shutil.which("docker-registry") is None:
        pytest.skip("docker-registry is not installed (scripts/install installs it)")
    reference = json.loads((dockerpy_suite.HERE / "data" / "dockerpy-dockerd.json")
                           .read_text())["tests"]
    excused = dockerpy_suite.exceptions()
    assert all(reference.get(t) == "passed" for t in excused), \
        "an exception is listed for a test dockerd does not pass here"
    with dockerpy_suite.hull_host() as (host, netns, images):
        report = dockerpy_suite.run_report(host, netns=netns, images=images)
    moved = dockerpy_suite.compare(reference, report.outcomes)
    lost = [f"{t}: {report.messages.get(t, '')[:300]}" for t in moved["lost"]
            if t not in excused]
    assert not lost, "dockerd passes these and hull does not:\n" + "\n".join(lost)
    assert not moved["not_run"], moved["not_run"][:20]
    passed = sum(1 for o in report.outcomes.values() if o == "passed")
    assert passed >= sum(1 for o in reference.values() if o == "passed") - len(excused)
