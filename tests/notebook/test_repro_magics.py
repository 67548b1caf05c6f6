"""`%mlws diff A B` and `%mlws replay RUN` in a real kernel, as a notebook user types them."""

from __future__ import annotations

import json

from .conftest import Kernel


def test_diff_and_replay_from_magics(kernel: Kernel) -> None:
    kernel.notebook.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}))
    first = kernel.ok("%%mlrun -n lr-1\nlr = 0.1\nprint('lr', lr)", cell_id="train").run_id
    second = kernel.ok("%%mlrun -n lr-2\nlr = 0.2\nprint('lr', lr)", cell_id="train").run_id

    shown = kernel.ok(f"%mlws diff {first} last")
    assert shown.result is not None and "mlws-run-diff" in shown.result["text/html"]
    assert "lr 0.1" in shown.result["text/html"] and "lr 0.2" in shown.result["text/html"]  # the logs
    assert shown.result["text/plain"] == f"<RunDiff {first} vs {second}: differ>"

    replayed = kernel.ok("%mlws replay last", timeout=180)
    assert "replaying in a fresh kernel" in replayed.stdout
    assert (
        replayed.result is not None and f"<Replay of {second}: reproduced>" == replayed.result["text/plain"]
    )

    bad = kernel.ok("%mlws diff only-one")
    assert "diff takes two run ids (or last)" in bad.stdout
    unknown = kernel.ok("%mlws replay 0123456789abcdef0123456789abcdef")
    assert "does not exist" in unknown.stdout
