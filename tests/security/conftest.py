"""The escape battery uses the engine fixture of the integration suite."""

from tests.integration.conftest import hull  # noqa: F401
