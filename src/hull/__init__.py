"""hull: a daemonless, Docker-compatible container engine with its own OCI runtime.

Nothing is imported here on purpose: every command pays only for the modules it uses.
"""

__version__ = "0.1.0"
