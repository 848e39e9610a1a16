"""tests/api/dockerpy holds docker-py's own integration tests as data: they run only through
tests/api/dockerpy_suite.py (a separate pytest with its own rootdir, against a chosen
engine), never as part of this suite."""

collect_ignore = ["dockerpy"]

from tests.api.apiservice import api  # noqa: E402,F401  (the fixture)
