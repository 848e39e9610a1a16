"""Image references, normalized as Docker does."""

from __future__ import annotations

import pytest

from hull.errors import InvalidArgument
from hull.image.reference import parse


def test_references() -> None:
    assert str(parse("busybox")) == "docker.io/library/busybox:latest"
    assert str(parse("localhost:5000/a/b:v1")) == "localhost:5000/a/b:v1"
    ref = parse("quay.io/x/y@sha256:" + "a" * 64)
    assert ref.registry == "quay.io" and ref.tag is None and ref.digest
    assert parse("docker.io/library/busybox:1").familiar() == "busybox:1"
    for bad in ("UPPER", "a b", "x:", "sha256:zz@", ""):
        with pytest.raises(InvalidArgument):
            parse(bad)
