"""The output tee of a `%%mlrun` cell: what the cell prints goes to the cell AND the run's log.

Called by `notebook/mlrun.py`: `OutputCapture.start()` before the cell body,
`stop()` after it (in a `finally`, so the streams are restored whatever
happened), `text()` for the final log.

Decisions:
- `sys.stdout` / `sys.stderr` are replaced by `_Tee` objects that write
  through to the stream that was there (the user still sees every character,
  in order, live) and keep a copy. Everything else about the stream
  (`encoding`, `fileno`, `isatty`, ipykernel's extras) is the original's.
- stdout and stderr share one log, interleaved as written, the way a
  terminal shows them.
- The copy is capped at `LOG_MAX_CHARS` (10 MiB of text): past it the text is
  not kept and the log ends with a note saying how much was left out; the
  cell's own display is never cut.
- Live: the first write registers a ticker on the background finalizer
  (`client/finalizer.py`) that rewrites the log artifact at most every
  `LIVE_SECONDS` while there is new text; a cell that prints nothing costs no
  ticker. The final log is written by the finalizer after the cell.
- `flush()` reaches the real stream only when text was written through the
  tee since the last flush: ipykernel's flush waits on its IO thread even
  when there is nothing to send, and each card update flushes both streams.
- What goes around `sys.stdout` is not seen: output of a `logging` handler
  made before the cell (it holds the old stream) and of C code or
  subprocesses writing to the file descriptors directly.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

LOG_MAX_CHARS = 10 * 1024 * 1024
LIVE_SECONDS = 1.0


class _Tee:
    """A text stream that writes through to `target` and copies into its capture."""

    def __init__(self, target: Any, capture: OutputCapture) -> None:
        self._target = target
        self._capture = capture
        self._unflushed = False

    def write(self, text: str) -> int:
        written = self._target.write(text)
        self._unflushed = True
        self._capture._keep(text)
        return written if written is not None else len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        # ipykernel's flush is a round trip to its IO thread even with nothing to send, and
        # every display() flushes both streams: skip it when nothing came through the tee
        if self._unflushed:
            self._unflushed = False
            self._target.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


class OutputCapture:
    """Tees stdout/stderr of one cell into a bounded, live text copy (see the module docstring)."""

    def __init__(
        self, on_live: Callable[[str], Any] | None = None, *, max_chars: int = LOG_MAX_CHARS
    ) -> None:
        self.max_chars = max_chars
        self._on_live = on_live
        self._parts: list[str] = []
        self._size = 0
        self._left_out = 0
        self._lock = threading.Lock()
        self._capturing = False
        self._version = 0
        self._live_version = 0
        self._ticker: Any = None
        self._saved: tuple[Any, Any] | None = None

    def start(self) -> None:
        """Install the tees on `sys.stdout` and `sys.stderr`."""
        self._saved = (sys.stdout, sys.stderr)
        self._capturing = True
        sys.stdout = _Tee(sys.stdout, self)
        sys.stderr = _Tee(sys.stderr, self)

    def stop(self) -> None:
        """Restore the streams (only those still ours) and stop keeping text; idempotent."""
        self._capturing = False
        saved, self._saved = self._saved, None
        if saved is not None:
            if isinstance(sys.stdout, _Tee) and sys.stdout._capture is self:
                sys.stdout = saved[0]
            if isinstance(sys.stderr, _Tee) and sys.stderr._capture is self:
                sys.stderr = saved[1]
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.cancel()

    def text(self) -> str:
        """Everything kept so far, with the truncation note if text was left out."""
        with self._lock:
            kept = "".join(self._parts)
            left_out = self._left_out
        if left_out:
            kept += (
                f"\n[mlws: the log is capped at {self.max_chars} characters; "
                f"{left_out} more characters of output were not stored]\n"
            )
        return kept

    # ----- internals -------------------------------------------------------------
    def _keep(self, text: Any) -> None:
        if not self._capturing or not isinstance(text, str) or not text:
            return
        with self._lock:
            room = self.max_chars - self._size
            if room <= 0:
                self._left_out += len(text)
            elif len(text) > room:
                self._parts.append(text[:room])
                self._size += room
                self._left_out += len(text) - room
            else:
                self._parts.append(text)
                self._size += len(text)
            self._version += 1
            start_live = self._ticker is None and self._on_live is not None
            if start_live:
                self._ticker = False  # claimed: one ticker per capture
        if start_live:
            self._start_live()

    def _start_live(self) -> None:
        from ..client.finalizer import get

        ticker = get().every(LIVE_SECONDS, self._live)
        if self._capturing:
            self._ticker = ticker
        else:
            ticker.cancel()

    def _live(self) -> None:
        version = self._version
        if version == self._live_version or not self._capturing or self._on_live is None:
            return
        self._live_version = version
        self._on_live(self.text())
