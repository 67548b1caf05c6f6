"""`%mlws`: the workspace line magic.

Sub-commands grow with the project (`status`, `runs`, `open`, `end` arrive
with notebook runs); today `%mlws` and `%mlws info` print where this kernel's
workspace is, so a user can see at a glance which store their runs go to.
"""

from __future__ import annotations

import os

from IPython.core.magic import Magics, line_magic, magics_class

from .._version import __version__
from ..errors import MLWSError
from ..location import WORKSPACE_ENV, resolve_location

_USAGE = "usage: %mlws [info]"


def workspace_report() -> str:
    """The text `%mlws info` prints: workspace, stores and version."""
    location = resolve_location()
    described = location.describe()
    source = f"${WORKSPACE_ENV}" if os.environ.get(WORKSPACE_ENV) else "default (./.mlws)"
    lines = [
        f"ML workspace   {described['workspace']}",
        f"  chosen by    {source}",
        f"  store        {described['store_kind']}  {described['store_url']}",
        f"  artifacts    {described['artifact_url']}",
        f"  version      jupyter_mlws {__version__}",
    ]
    return "\n".join(lines)


@magics_class
class WorkspaceMagics(Magics):
    """The magics of the jupyter_mlws IPython extension."""

    @line_magic
    def mlws(self, line: str) -> None:
        """Show this kernel's ML workspace.

        %mlws            same as %mlws info
        %mlws info       the workspace folder or URL, its stores and the version
        """
        words = line.split()
        command = words[0] if words else "info"
        if command == "info" and len(words) <= 1:
            try:
                print(workspace_report())
            except MLWSError as err:
                print(f"mlws: {err}")
            return
        print(f"mlws: unknown command {line.strip()!r}\n{_USAGE}")
