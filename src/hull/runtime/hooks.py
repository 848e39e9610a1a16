"""OCI hooks: programs run with the container state on stdin at fixed points of the lifecycle.

prestart and createRuntime run in the runtime's namespaces once the container's namespaces
exist; createContainer runs in the container's namespaces before pivot_root; startContainer
inside the container just before the user process; poststart after start; poststop after
delete. A failing hook before start aborts the container; after it, it is only a warning.
"""

from __future__ import annotations

import os
import sys

from hull import fastjson
from hull.errors import HullError
from hull.runtime.spec import Hook

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class HookFailed(HullError):
    pass


def run(kind: str, hooks: list[Hook], state: dict[str, Any], fatal: bool = True) -> None:
    if not hooks:
        return
    import subprocess
    payload = fastjson.dumps(state).encode()
    for hook in hooks:
        env = dict(e.split("=", 1) for e in hook.env if "=" in e)
        args = hook.args or [hook.path]
        try:
            proc = subprocess.run(args, executable=hook.path, input=payload, env=env,
                                  capture_output=True, timeout=hook.timeout, close_fds=True,
                                  check=False)
            if proc.returncode != 0:
                detail = proc.stderr.decode(errors="replace").strip().splitlines()
                raise HookFailed(f"{kind} hook {hook.path} exited with status "
                                 f"{proc.returncode}" + (f": {detail[-1]}" if detail else ""))
        except subprocess.TimeoutExpired:
            err: HullError = HookFailed(f"{kind} hook {hook.path} timed out after "
                                        f"{hook.timeout}s")
            if fatal:
                raise err from None
            print(f"hull-runtime: warning: {err}", file=sys.stderr)
        except (OSError, HookFailed) as e:
            if fatal:
                raise HookFailed(str(e) if isinstance(e, HookFailed)
                                 else f"{kind} hook {hook.path}: {e.strerror}") from None
            print(f"hull-runtime: warning: {e}", file=sys.stderr)


def run_in_process(kind: str, hooks: list[Hook], state: dict[str, Any]) -> None:
    """Run hooks from a container-side process (createContainer/startContainer), where the
    Python subprocess machinery is too heavy and threads are unwanted: fork, exec, wait."""
    payload = fastjson.dumps(state).encode()
    for hook in hooks:
        env = dict(e.split("=", 1) for e in hook.env if "=" in e)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(w)
                os.dup2(r, 0)
                os.execve(hook.path, hook.args or [hook.path], env)
            finally:
                os._exit(127)
        os.close(r)
        try:
            os.write(w, payload)
        except BrokenPipeError:
            pass
        os.close(w)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            raise HookFailed(f"{kind} hook {hook.path} exited with status {code}")
