"""A run as a cell's last expression, through the display hook (jupyter_mlws/display.py).

The client knows no widget module by name: the widgets package registers how a
run shows (pyproject.toml's ``jupyter_mlws.display`` entry point). In a real
kernel the run shows as the live RunDetails widget; a hook that fails, or
answers nothing, leaves the plain text repr.
"""

from __future__ import annotations

from .conftest import Kernel

WIDGET = "application/vnd.jupyter.widget-view+json"


def test_a_run_shows_as_its_widget_through_the_registered_hook(kernel: Kernel) -> None:
    kernel.ok("import jupyter_mlws as mlws\nshown = mlws.start_run(experiment='display', name='hooked')\nshown.end()")
    result = kernel.ok("shown").result
    assert WIDGET in result, result.keys()
    assert result["text/plain"].startswith("<Run ") and "'hooked' completed>" in result["text/plain"]
    # Another front end replaces the hook; one that fails shows the text, not a traceback.
    kernel.ok("from jupyter_mlws import display\ndisplay.register('run', lambda run, i, e: {'text/html': '<b>mine</b>'})")
    assert kernel.ok("shown").result["text/html"] == "<b>mine</b>"
    kernel.ok("def broken(run, i, e):\n    raise RuntimeError('no front end')\ndisplay.register('run', broken)")
    reply = kernel.ok("shown")
    assert set(reply.result) == {"text/plain"} and "'hooked' completed>" in reply.result["text/plain"]
    assert "Traceback" not in reply.stderr
    kernel.ok("display.register('run', lambda run, i, e: None)")
    assert set(kernel.ok("shown").result) == {"text/plain"}
