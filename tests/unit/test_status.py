"""engine/status.py: the status a record's State says, and the steps each status allows
(what `kill`, `pause`, `rm`, `prune` and `wait` check under the container's lock)."""

from __future__ import annotations

import pytest

from hull.engine import status
from hull.engine.status import Status


@pytest.mark.parametrize(("state", "expected"), [
    ({"Status": "created"}, Status.CREATED),
    ({"Status": "running", "Running": True}, Status.RUNNING),
    ({"Status": "paused", "Running": True, "Paused": True}, Status.PAUSED),
    ({"Status": "restarting", "Restarting": True}, Status.RESTARTING),
    ({"Status": "exited", "ExitCode": 3}, Status.EXITED),
    ({"Status": "running", "Running": False}, Status.EXITED),   # flags win over the word
    ({"Status": "bogus"}, Status.DEAD),
    ({}, Status.CREATED),
])
def test_status_of_a_record(state: dict[str, object], expected: Status) -> None:
    assert status.of(state) is expected


def test_what_each_status_allows() -> None:
    allowed = {s: (status.can_signal(s), status.can_pause(s), status.can_unpause(s),
                   status.can_remove(s, force=False), status.can_prune(s),
                   status.has_ended(s)) for s in Status}
    #                     signal pause  unpause rm     prune  ended
    assert allowed == {
        Status.CREATED:    (False, False, False, True,  True,  True),
        Status.RUNNING:    (True,  True,  False, False, False, False),
        Status.PAUSED:     (True,  False, True,  False, False, False),
        Status.RESTARTING: (False, False, False, False, False, False),   # rm: as dockerd
        Status.REMOVING:   (False, False, False, True,  True,  False),
        Status.EXITED:     (False, False, False, True,  True,  True),
        Status.DEAD:       (False, False, False, True,  True,  True),
    }
    assert all(status.can_remove(s, force=True) for s in Status)
