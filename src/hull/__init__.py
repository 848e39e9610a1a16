"""hull: a Docker-compatible container engine with its own OCI runtime.

Nothing is imported here on purpose: every command pays only for the modules it uses.
"""

__version__ = "0.1.0"


def commit() -> str:
    """The git commit this copy of hull was built from (`hull --version`), read from the
    checkout it runs from; "unknown" for a copy outside one."""
    import os
    git = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), ".git")
    try:
        with open(os.path.join(git, "HEAD")) as f:
            head = f.read().strip()
        if head.startswith("ref: "):
            with open(os.path.join(git, head[5:])) as f:
                head = f.read().strip()
        return head[:7]
    except OSError:
        return "unknown"
