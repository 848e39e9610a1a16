"""Registry configuration: mirrors first, mirror-only registries never contacted."""

from __future__ import annotations

from pathlib import Path

import pytest

from hull.errors import FailedPrecondition
from hull.registry.config import load


def test_mirrors_and_mirror_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg_file = tmp_path / "r.json"
    cfg_file.write_text('{"mirrors": {"docker.io": ["http://127.0.0.1:5000"]}, '
                        '"insecure": ["lan:5000"]}')
    monkeypatch.setenv("HULL_MIRROR_ONLY", "")
    cfg = load(str(cfg_file))
    hosts = [(e.scheme, e.host) for e in cfg.endpoints("docker.io")]
    assert hosts == [("http", "127.0.0.1:5000"), ("https", "registry-1.docker.io")]
    assert cfg.endpoints("lan:5000")[0].scheme == "http"
    assert cfg.endpoints("localhost:5000")[0].scheme == "http"
    monkeypatch.setenv("HULL_MIRROR_ONLY", "docker.io")
    cfg = load(str(cfg_file))
    assert [e.host for e in cfg.endpoints("docker.io")] == ["127.0.0.1:5000"]
    with pytest.raises(FailedPrecondition):
        cfg.upstream("docker.io")
