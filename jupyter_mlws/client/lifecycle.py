"""The active-run stack and what happens to runs when the process ends.

Called by `start_run` (push), `Run.end` (forget) and `mlws.active_run()`.
Installed once, on the first run this process starts:

- an `atexit` hook: runs started here and still open end `completed`, or
  `failed` when the interpreter is exiting because of an uncaught exception
  (a wrapped `sys.excepthook` notes it), after a bounded flush;
- a SIGTERM handler (only from the main thread, where Python allows it):
  flushes for at most `SIGTERM_FLUSH_SECONDS`, ends open runs `killed`, then
  hands the signal to the handler that was there before (or re-raises it with
  the default action, so the process still exits).

Liveness is owned by the server (RELIABILITY design rules); these hooks only
make the common endings fast and exact.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any

from ..entities import RunStatus

if TYPE_CHECKING:
    from .run import Run

SIGTERM_FLUSH_SECONDS = 4.0
EXIT_FLUSH_SECONDS = 10.0

_stack: list[Run] = []
_lock = threading.RLock()
_installed = False
_uncaught: list[str] = []


def push(run: Run) -> None:
    """Make `run` the active run (started by `start_run` in this process)."""
    with _lock:
        _stack.append(run)
        _install()


def forget(run: Run) -> None:
    """Remove an ended run from the stack."""
    with _lock:
        for i in range(len(_stack) - 1, -1, -1):
            if _stack[i].id == run.id:
                del _stack[i]


def active() -> Run | None:
    """The innermost open run started here, or None."""
    with _lock:
        return _stack[-1] if _stack else None


def open_runs() -> list[Run]:
    """Every open run started here, innermost first."""
    with _lock:
        return list(reversed(_stack))


def _end_all(status: RunStatus, reason: str, flush_seconds: float) -> None:
    for run in open_runs():
        try:
            run.end(status, reason, flush_timeout=flush_seconds)
        except Exception:
            forget(run)


def _at_exit() -> None:
    if _uncaught:
        _end_all(RunStatus.FAILED, _uncaught[-1], EXIT_FLUSH_SECONDS)
    else:
        _end_all(RunStatus.COMPLETED, "process exited", EXIT_FLUSH_SECONDS)


def _on_sigterm(previous: Any) -> Any:
    def handler(signum: int, frame: Any) -> None:
        _end_all(RunStatus.KILLED, "SIGTERM", SIGTERM_FLUSH_SECONDS)
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_IGN:
            return
        else:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    return handler


def _install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    atexit.register(_at_exit)
    previous_hook = sys.excepthook

    def excepthook(kind: Any, value: Any, tb: Any) -> None:
        _uncaught.append(f"{kind.__name__}: {value}"[:8000])
        previous_hook(kind, value, tb)

    sys.excepthook = excepthook
    if threading.current_thread() is threading.main_thread():
        previous = signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, _on_sigterm(previous))
