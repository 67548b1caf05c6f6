"""The active-run stack and what happens to runs when the process ends.

Called by `start_run` (push), `Run.end` (forget), `mlws.active_run()` and
`%%mlrun` (which pushes its run for the cell and forgets it at the cell's
end). Installed once, on the first run this process starts:

- an `atexit` hook: first a bounded drain of the background finalizer
  (`client/finalizer.py`: `%%mlrun` cells that ended but whose run is still
  being written), then the runs started here and still open end with the
  status that tells how the process ended (RELIABILITY K2/K3):
  - a script that finishes normally, or calls `sys.exit(0)` / `sys.exit()`:
    `completed`;
  - an uncaught exception (a wrapped `sys.excepthook` notes it): `failed`
    with the exception;
  - `sys.exit(code)` with a non-zero code (a wrapped `sys.exit` notes it):
    `failed`, "exited with status N";
  - inside an ipykernel: the user's `exit()` / `quit()` (the shell's
    `exit_now`): `failed`, "the kernel exited (exit()) before the run ended";
    a kernel shut down or restarted by its manager (the kernel's
    `do_shutdown`, wrapped to note it, also sets `exit_now`): `killed`,
    "kernel shut down" / "kernel restarted".
- a SIGTERM handler (only from the main thread, where Python allows it):
  drains the finalizer and flushes for at most `SIGTERM_FLUSH_SECONDS` in all,
  ends open runs `killed`, then hands the signal to the handler that was there
  before (or re-raises it with the default action, so the process still exits).

Every wait is bounded (never an unbounded join, mlflow#20575). A SystemExit
raised without `sys.exit` (`raise SystemExit(2)`) is not seen: the run ends
as for a normal exit. Liveness is owned by the server (RELIABILITY design
rules); these hooks only make the common endings fast and exact.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from ..entities import RunStatus

if TYPE_CHECKING:
    from .run import Run

SIGTERM_FLUSH_SECONDS = 4.0
EXIT_FLUSH_SECONDS = 10.0
EXIT_DRAIN_SECONDS = 5.0
SIGTERM_DRAIN_SECONDS = 2.0

_stack: list[Run] = []
_lock = threading.RLock()
_installed = False
_uncaught: list[str] = []
_exit_status: list[Any] = []  # the last code given to sys.exit
_kernel_shutdown: list[bool] = []  # the kernel's do_shutdown ran (value: restart)
_last: list[Run] = []  # the last top-level run started here (`mlws.last_run()`)


def push(run: Run) -> None:
    """Make `run` the active run (started by `start_run` in this process)."""
    with _lock:
        if not _stack:
            _last[:] = [run]
        _stack.append(run)
        _install()


def last() -> Run | None:
    """The last top-level run started in this process, active or ended."""
    with _lock:
        return _last[0] if _last else None


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
        except Exception as err:
            forget(run)
            # The process is ending: say what could not be written, never raise, never hide it.
            message = getattr(err, "message", None) or f"{type(err).__name__}: {err}"
            print(
                f"jupyter_mlws: run {run.id} could not be ended ({status.value}): {message}", file=sys.stderr
            )


def _drain_background(seconds: float) -> None:
    """Bounded wait for the finalizer's pending work (only if this process used it)."""
    module = sys.modules.get(f"{__package__}.finalizer")
    if module is not None:
        try:
            module.drain(seconds)
        except Exception:
            pass


def _kernel() -> Any:
    """The running ipykernel of this process, or None (never imports ipykernel)."""
    app_module = sys.modules.get("ipykernel.kernelapp")
    if app_module is None:
        return None
    try:
        app = app_module.IPKernelApp
        return app.instance().kernel if app.initialized() else None
    except Exception:
        return None


def _exit_ending() -> tuple[RunStatus, str]:
    """The status and reason for runs still open while the process exits (see the docstring)."""
    kernel = _kernel()
    if kernel is not None:
        if _kernel_shutdown:
            return RunStatus.KILLED, "kernel restarted" if _kernel_shutdown[-1] else "kernel shut down"
        shell = getattr(kernel, "shell", None)
        if shell is not None and getattr(shell, "exit_now", False):
            return RunStatus.FAILED, "the kernel exited (exit()) before the run ended"
        return RunStatus.KILLED, "kernel shut down"
    if _uncaught:
        return RunStatus.FAILED, _uncaught[-1]
    if _exit_status:
        code = _exit_status[-1]
        if code is not None and code != 0:
            if isinstance(code, int):
                return RunStatus.FAILED, f"exited with status {code}"
            return RunStatus.FAILED, f"exited with status 1 ({code})"[:8000]
    return RunStatus.COMPLETED, "process exited"


def _at_exit() -> None:
    started = time.monotonic()
    _drain_background(EXIT_DRAIN_SECONDS)
    status, reason = _exit_ending()
    _end_all(status, reason, max(1.0, EXIT_FLUSH_SECONDS - (time.monotonic() - started)))


def _on_sigterm(previous: Any) -> Any:
    def handler(signum: int, frame: Any) -> None:
        started = time.monotonic()
        _drain_background(SIGTERM_DRAIN_SECONDS)
        reason = "kernel shut down (SIGTERM)" if _kernel() is not None else "SIGTERM"
        _end_all(RunStatus.KILLED, reason, max(0.5, SIGTERM_FLUSH_SECONDS - (time.monotonic() - started)))
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_IGN:
            return
        else:
            from .logger import finish_writes

            finish_writes(max(0.5, SIGTERM_FLUSH_SECONDS - (time.monotonic() - started)))
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    return handler


def _wrap_exit() -> None:
    """Note the code given to `sys.exit` (the only place Python shows it before atexit)."""
    real_exit = sys.exit

    def exit(status: Any = None) -> Any:
        __tracebackhide__ = True  # read by IPython's traceback printer
        _exit_status[:] = [status]
        real_exit(status)

    exit.__doc__ = real_exit.__doc__
    exit.__wrapped__ = real_exit  # type: ignore[attr-defined]
    sys.exit = exit


def _watch_kernel_shutdown() -> None:
    """Inside an ipykernel, note a shutdown/restart request (it sets `exit_now` like `exit()`)."""
    kernel = _kernel()
    if kernel is None or not hasattr(kernel, "do_shutdown"):
        return
    real_shutdown = kernel.do_shutdown

    def do_shutdown(restart: bool) -> Any:
        _kernel_shutdown.append(bool(restart))
        return real_shutdown(restart)

    try:
        kernel.do_shutdown = do_shutdown
    except Exception:
        pass


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
    _wrap_exit()
    _watch_kernel_shutdown()
    if threading.current_thread() is threading.main_thread():
        previous = signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, _on_sigterm(previous))
