"""`%%mlrun`, `%%mlsweep` and `%mlws`: the magics of the jupyter_mlws IPython extension.

Registered by `load_ipython_extension` (notebook/__init__.py) with the
kernel's `NotebookSession`. `%%mlrun` parses its line with IPython's
`magic_arguments` (so `%%mlrun?` documents every option) and hands the cell
to `notebook/mlrun.py`; `%%mlsweep` (a cell as a sweep's trial) goes to
`notebook/sweep_cell.py`. `%mlws` is the workspace line magic:

    %mlws [info]            where this kernel's runs go (workspace, stores, version)
    %mlws status            workspace, active run, last %%mlrun run, recorder on/off
    %mlws runs [N]          the N most recent runs (default 10) as a DataFrame
    %mlws open RUN          the run card of RUN (an id, or `last`)
    %mlws end [STATUS]      end the active run (completed, failed or killed)
    %mlws record [on|off]   switch the execution recorder for this notebook

Decisions: a mistake in a `%mlws` line prints the usage and never raises (a
line magic is often typed by hand); a mistake in a `%%mlrun` line is a
UsageError, so the cell fails before anything runs and no run is made.
The client (SQLAlchemy, pandas) is imported on first use, not at load.
"""

from __future__ import annotations

import os
from typing import Any

from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, output_can_be_silenced
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from .._version import __version__
from ..errors import MLWSError
from ..location import WORKSPACE_ENV, resolve_location
from .session import NotebookSession, active_run_id, session_for

_USAGE = """usage: %mlws [info]            this kernel's workspace
       %mlws status            workspace, active run, last %%mlrun run, recorder
       %mlws runs [N]          the N most recent runs (default 10)
       %mlws open RUN          the run card of RUN (a run id, or last)
       %mlws end [STATUS]      end the active run (completed, failed, killed)
       %mlws record [on|off]   record every cell execution of this notebook, or not
       %mlws diff A B          what run B did differently from run A (ids, or last)
       %mlws replay RUN        re-execute RUN in a fresh kernel, name the first diverging cell"""

RUNS_DEFAULT = 10


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

    def __init__(self, shell: Any = None, session: NotebookSession | None = None, **kwargs: Any) -> None:
        super().__init__(shell, **kwargs)
        self._session = session

    @property
    def session(self) -> NotebookSession:
        """The kernel's notebook session (made on first use if the magics were registered by hand)."""
        if self._session is None:
            self._session = session_for(self.shell)
        assert self._session is not None
        return self._session

    # ----- %%mlrun -------------------------------------------------------------
    @magic_arguments()
    @argument("-e", "--experiment", metavar="NAME", help="experiment (default: the notebook's name)")
    @argument("-n", "--name", metavar="NAME", help="run name (default: a generated one)")
    @argument("-t", "--tag", action="append", metavar="KEY=VALUE", help="set a tag on the run (repeatable)")
    @argument(
        "-p", "--param", action="append", metavar="KEY=VALUE", help="log a param before the cell (repeatable)"
    )
    @argument("-d", "--description", metavar="TEXT", help="a description of the run (tag mlws.description)")
    @argument("--parent", metavar="RUN", help="make the run a child of RUN (default: the active run, if any)")
    @argument("--no-snapshot", action="store_true", help="do not snapshot the code and history")
    @argument(
        "--log-vars",
        metavar="A,B",
        help="after the cell, log these variables: numbers as metrics, bools and short strings as params",
    )
    @argument("--no-card", action="store_true", help="do not display the run card")
    @argument(
        "--target",
        metavar="CLUSTER",
        help="run the cell as a job on a node of this cluster (its variables go there and come back)",
    )
    @output_can_be_silenced
    @cell_magic
    def mlrun(self, line: str, cell: str) -> Any:
        """Run this cell as a run of the ML workspace.

        The cell's source, output (stdout/stderr, also shown as usual), duration,
        environment and a code snapshot are recorded; `mlws.log_*` calls inside
        the cell go to this run and `$MLWS_RUN_ID` names it for subprocesses.
        The run ends `completed`, `failed` (an exception, with the traceback in
        the run's log) or `killed` (interrupted). If a run is active in the
        kernel, this run becomes its child.

        Example::

            %%mlrun -e churn -n baseline -t team=a --log-vars accuracy
            accuracy = train()
        """
        __tracebackhide__ = True
        from .mlrun import CellRun, MlrunOptions, parse_names, parse_pairs

        args = parse_argstring(self.mlrun, line)
        options = MlrunOptions(
            experiment=args.experiment,
            name=args.name,
            tags=parse_pairs(args.tag, "-t"),
            params=parse_pairs(args.param, "-p"),
            parent=args.parent,
            description=args.description,
            snapshot=not args.no_snapshot,
            log_vars=parse_names(args.log_vars),
            card=not args.no_card,
        )
        if args.target:
            from .cell_jobs import run_on_target

            return run_on_target(self.shell, self.session, options, args.target, cell)
        return CellRun(self.shell, self.session, options, line, cell).run()

    # ----- %%mlsweep ------------------------------------------------------------
    @magic_arguments()
    @argument("-e", "--experiment", metavar="NAME", help="experiment (default: the notebook's name)")
    @argument("-n", "--name", metavar="NAME", help="the sweep's name (default: mlsweep)")
    @argument("--maximize", metavar="METRIC", help="the objective: a metric the cell logs, to maximize")
    @argument("--minimize", metavar="METRIC", help="the objective: a metric the cell logs, to minimize")
    @argument("--target", metavar="CLUSTER", help="the cluster whose nodes run the trials (as jobs)")
    @argument("--max-trials", type=int, default=10, metavar="N", help="trials in all (default 10)")
    @argument("--concurrent", type=int, default=2, metavar="N", help="trials at once (default 2)")
    @argument(
        "--sampling",
        default="random",
        metavar="NAME",
        help="random (default), grid, or bayesian (TPE)",
    )
    @argument(
        "--early-stop",
        metavar="POLICY",
        help="bandit:SLACK[:DELAY], median[:DELAY], truncation:PERCENT[:DELAY] or asha[:MIN[:FACTOR]]",
    )
    @argument("--space", metavar="VAR", help="a dict variable of the notebook: {name: distribution}")
    @argument("--timeout", metavar="DURATION", help="start no trial after this (e.g. 30m)")
    @argument("--seed", type=int, metavar="N", help="the sampler's seed")
    @argument("--out", metavar="VAR", help="also put the Sweep in this variable")
    @argument("--wait", action="store_true", help="block until the sweep ends")
    @cell_magic
    def mlsweep(self, line: str, cell: str) -> Any:
        """Sweep this cell's hyperparameters: each trial runs the cell as a job on --target.

        The search space is given as options after the known ones, each a distribution from
        jupyter_mlws.sweep written as text (--lr "loguniform(1e-4, 1e-1)" --depth "choice(3, 5)"),
        or as a dict variable (--space space). In each trial the sampled values are variables of
        the cell; the notebook variables the cell reads are shipped with it. The cell's value is
        the Sweep (a live widget of its trials; `_` or --out NAME keeps it).

        Example::

            %%mlsweep -e diabetes --max-trials 20 --maximize auc --target cpu --lr "loguniform(1e-4, 0.1)"
            auc = train(X, y, lr=lr)
            mlws.log_metric("auc", auc)
        """
        __tracebackhide__ = True
        from .sweep_cell import split, start

        args, rest = self.mlsweep.parser.parse_known_args(split(line))
        return start(self.shell, args, rest, cell)

    # ----- %mlws ---------------------------------------------------------------
    @line_magic
    def mlws(self, line: str) -> Any:
        """The ML workspace of this kernel.

        %mlws [info]            where this kernel's runs go (workspace, stores, version)
        %mlws status            workspace, active run, last %%mlrun run, recorder on/off
        %mlws runs [N]          the N most recent runs (default 10) as a DataFrame
        %mlws open RUN          the run card of RUN (a run id, or `last`)
        %mlws end [STATUS]      end the active run (completed, failed or killed)
        %mlws record [on|off]   switch the execution recorder for this notebook
        %mlws diff A B          what run B did differently from run A (`mlws.diff`)
        %mlws replay RUN        `run.replay()`: a fresh kernel, compared cell by cell
        """
        words = line.split()
        command = words[0] if words else "info"
        rest = words[1:]
        handler = {
            "info": self._info,
            "status": self._status,
            "runs": self._runs,
            "open": self._open,
            "end": self._end,
            "record": self._record,
            "diff": self._diff,
            "replay": self._replay,
        }.get(command)
        if handler is None:
            print(f"mlws: unknown command {line.strip()!r}\n{_USAGE}")
            return None
        try:
            return handler(rest)
        except _Usage as err:
            print(f"mlws: {err}\n{_USAGE}")
        except MLWSError as err:
            print(f"mlws: {err}")
        return None

    def _info(self, rest: list[str]) -> None:
        if rest:
            raise _Usage("info takes no arguments")
        print(workspace_report())

    def _status(self, rest: list[str]) -> None:
        if rest:
            raise _Usage("status takes no arguments")
        location = resolve_location()
        lines = [f"ML workspace   {location.workspace}"]
        run_id = active_run_id()
        if run_id is None:
            lines.append("active run     none")
        else:
            lines.append(f"active run     {self._describe(run_id)}")
        facts = self.session.last_card
        if facts is None:
            lines.append("last %%mlrun   none in this kernel")
        else:
            lines.append(f"last %%mlrun   {self._describe(facts.run_id)}")
        recorder = self.session.recorder
        state = "on" if recorder.enabled else "off"
        lines.append(f"recorder       {state} ({recorder.recorded} cell executions recorded by this kernel)")
        print("\n".join(lines))

    @staticmethod
    def _describe(run_id: str) -> str:
        from ..client.fluent import default_workspace

        try:
            info = default_workspace().get_run(run_id).info
        except MLWSError as err:
            return f"{run_id} ({err})"
        return f"{info.run_id} {info.name!r} ({info.status.value})"

    def _runs(self, rest: list[str]) -> Any:
        if len(rest) > 1 or (rest and not (rest[0].isdigit() and int(rest[0]) > 0)):
            raise _Usage("runs takes one optional positive number")
        from ..client.fluent import default_workspace
        from ..client.frames import RUN_COLUMNS

        limit = int(rest[0]) if rest else RUNS_DEFAULT
        frame = default_workspace().runs(limit=limit)
        keep = [c for c in frame.columns if c in RUN_COLUMNS or c.startswith("metrics.")]
        return frame[keep]

    def _open(self, rest: list[str]) -> None:
        if len(rest) != 1:
            raise _Usage("open takes one run id (or last)")
        from ..client.fluent import default_workspace
        from .card import CardFacts, card_bundle

        run_id = rest[0]
        if run_id == "last":
            if self.session.last_card is None:
                print("mlws: no %%mlrun cell ran in this kernel yet")
                return
            run_id = self.session.last_card.run_id
        ws = default_workspace()
        info = ws.get_run(run_id).info
        experiment = ws.store.get_experiment(info.experiment_id).name
        end = info.end_time
        duration = None if end is None or info.start_time is None else (end - info.start_time) / 1000.0
        facts = CardFacts(info.run_id, info.name, experiment, info.status.value, duration, info.status_reason)
        from IPython.display import display

        display(card_bundle(facts), raw=True)

    def _run_id(self, word: str) -> str:
        if word != "last":
            return word
        if self.session.last_card is None:
            raise _Usage("no %%mlrun cell ran in this kernel yet, so there is no `last`")
        return self.session.last_card.run_id

    def _diff(self, rest: list[str]) -> Any:
        if len(rest) != 2:
            raise _Usage("diff takes two run ids (or last)")
        from ..client.fluent import default_workspace

        return default_workspace().diff(self._run_id(rest[0]), self._run_id(rest[1]))

    def _replay(self, rest: list[str]) -> Any:
        if len(rest) != 1:
            raise _Usage("replay takes one run id (or last)")
        from ..client.fluent import default_workspace

        print("mlws: replaying in a fresh kernel...")
        return default_workspace().get_run(self._run_id(rest[0])).replay()

    def _end(self, rest: list[str]) -> None:
        if len(rest) > 1 or (rest and rest[0] not in ("completed", "failed", "killed")):
            raise _Usage("end takes an optional status: completed, failed or killed")
        from ..client import lifecycle

        run = lifecycle.active()
        if run is None:
            print("mlws: no run is active in this kernel")
            return
        status = rest[0] if rest else "completed"
        run.end(status, "ended with %mlws end")
        print(f"mlws: run {run.id} ended {status}")

    def _record(self, rest: list[str]) -> None:
        recorder = self.session.recorder
        if len(rest) > 1 or (rest and rest[0] not in ("on", "off")):
            raise _Usage("record takes on or off")
        if rest:
            recorder.enabled = rest[0] == "on"
        state = "on" if recorder.enabled else "off"
        print(f"mlws: the execution recorder is {state} for this notebook")


class _Usage(Exception):
    """A `%mlws` line that does not parse."""
