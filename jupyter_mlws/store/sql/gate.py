"""A fair, cross-process write gate for one SQLite file (an `flock` on `<db>.writelock`).

Why: SQLite's busy handler polls with sleeps of up to 100 ms, so when many
processes write back to back the one that just committed wins again and
again, and a waiter can starve past any timeout (seen in the C1 test: eight
processes, one waited more than 60 s). The kernel queues `flock` waiters
and wakes one on release, so taking this gate before `BEGIN IMMEDIATE`
serialises writers in a fair order and the busy handler is left only for
outside tools. A process killed while holding the gate releases it (the
kernel closes its file).

Called by `engine.run_write` for SQLite stores. Acquiring is a
non-blocking attempt first (no cost when nobody else writes); when it is
taken, a helper thread blocks in `flock` on our behalf while the caller
waits with a deadline, so a hung peer gives `Unavailable`, never a hang.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path


class WriteGate:
    """An exclusive lock shared by every process writing the same database file.

    Each acquisition opens its own descriptor of the lock file: flock locks
    belong to an open file description, so a helper that gave up (timeout) and
    is still queued in the kernel can never release or share the lock of a
    later owner; when it is finally granted, it lets go at once.
    """

    def __init__(self, db_path: Path) -> None:
        self.path = db_path.with_name(db_path.name + ".writelock")
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644))
        self._local = threading.Lock()  # threads of this process queue here first
        self._held: int | None = None

    def acquire(self, timeout: float) -> bool:
        """Take the gate within `timeout` seconds; False when that was not possible."""
        if not self._local.acquire(timeout=timeout):
            return False
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pass
        except BaseException:
            os.close(fd)
            self._local.release()
            raise
        else:
            self._held = fd
            return True
        decided = threading.Lock()
        state = {"granted": False, "abandoned": False}
        got = threading.Event()

        def wait_in_kernel() -> None:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with decided:
                if state["abandoned"]:
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    os.close(fd)
                    return
                state["granted"] = True
            got.set()

        threading.Thread(target=wait_in_kernel, name="mlws-write-gate", daemon=True).start()
        got.wait(timeout)
        with decided:
            if state["granted"]:
                self._held = fd
                return True
            state["abandoned"] = True
        self._local.release()
        return False

    def release(self) -> None:
        """Let the next writer in."""
        fd, self._held = self._held, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        self._local.release()

    def close(self) -> None:
        """Nothing is kept open between acquisitions; kept for symmetry with the store's close."""
