"""service/loop.py: a callback that fails is logged and the loop goes on (the service
supervises every container: one bug in one callback must not end them all)."""

from __future__ import annotations

import socket
from pathlib import Path

from hull.service import log
from hull.service.loop import Loop


def test_a_failing_callback_does_not_stop_the_loop(tmp_path: Path) -> None:
    log.open_log(str(tmp_path / "service.log"))
    loop = Loop()
    ran: list[str] = []

    def broken() -> None:
        raise KeyError("gone")
    loop.call_later(0, broken)
    loop.call_later(0, lambda: ran.append("next timer"))
    reader, writer = socket.socketpair()
    loop.add_reader(reader, lambda: (ran.append("reader"), reader.recv(1)))
    writer.send(b"x")
    loop.run_once(0)
    loop.run_once(0)
    assert ran == ["next timer", "reader"]
    assert "KeyError: 'gone'" in (tmp_path / "service.log").read_text()
    log.open_log("")
    reader.close()
    writer.close()
