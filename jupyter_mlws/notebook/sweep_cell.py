"""`%%mlsweep`: a notebook cell as the trial of a hyperparameter sweep (issue 18, item 3).

```
%%mlsweep -e diabetes --max-trials 20 --concurrent 2 --maximize auc --early-stop bandit:0.1 --target cpu
--lr "loguniform(1e-4, 1e-1)" --depth "choice(3, 5, 7)"
auc = train(X, y, lr=lr, depth=depth)
mlws.log_metric("auc", auc)
```

Who calls it: the `%%mlsweep` magic (`magics.py`). The sweep is `ws.jobs.sweep` (`client/sweeps.py`)
with a function trial: `cell_trial` (`jobs/child.py`, light to import on a node) with the cell's
source and the notebook variables it reads (shipped as `%%mlrun --target` ships them: cloudpickle;
one that cannot be pickled is named and nothing starts). In each trial the sampled values are
variables of the cell; what the cell logs goes to the trial's run. The search space is given as
options after the known ones (`--lr "loguniform(1e-4, 1e-1)"`, each text read by
`jupyter_mlws.sweep.parse`: literals only, no code runs) or as a dict variable (`--space space`), or
both (the options win).

The cell's value is the `Sweep`, which displays as a live `SweepDetails` widget; `_` (or `--out
NAME`) holds it. The cell returns at once: the sweep runs where the dispatcher is (the Jupyter
server), not in the kernel; `--wait` blocks until it ends.

`--early-stop` texts (`jupyter_mlws.sweep.parse_policy`, shared with the CLI): `bandit:SLACK[:DELAY]`
(slack factor), `median[:DELAY]`, `truncation:PERCENT[:DELAY]`, `asha[:MIN_RESOURCE[:REDUCTION_FACTOR]]`
— Azure ML's policies, `DELAY` being `delay_evaluation`.
"""

from __future__ import annotations

import shlex
from typing import Any

from IPython.core.error import UsageError

from ..errors import InvalidParameter, NotFound


def policy(text: str | None) -> Any:
    """An early termination policy from its `--early-stop` text (`sweep.parse_policy`)."""
    from ..sweep import parse_policy

    try:
        return parse_policy(text)
    except InvalidParameter as err:
        raise UsageError(f"%%mlsweep {err.message}") from None


def space_options(rest: list[str]) -> dict[str, Any]:
    """`--name "distribution"` pairs after the known options, each parsed as a distribution."""
    from ..sweep import parse

    space: dict[str, Any] = {}
    items = list(rest)
    while items:
        flag = items.pop(0)
        if not flag.startswith("--") or len(flag) < 3:
            raise UsageError(
                f'%%mlsweep: unexpected {flag!r}; a search space option is --NAME "uniform(0, 1)".'
            )
        name, _, text = flag[2:].partition("=")
        if not _:
            if not items:
                raise UsageError(f'%%mlsweep: --{name} needs a distribution, e.g. --{name} "uniform(0, 1)".')
            text = items.pop(0)
        try:
            space[name] = parse(text)
        except InvalidParameter as err:
            raise UsageError(f"%%mlsweep --{name}: {err.message}") from None
    return space


def start(shell: Any, args: Any, rest: list[str], cell: str) -> Any:
    """Start the sweep of the cell (the module docstring); its `Sweep`."""
    from ..client import fluent
    from ..client.workspace import default_experiment_name
    from .cell_jobs import reads

    if bool(args.maximize) == bool(args.minimize):
        raise UsageError(
            "%%mlsweep: name the objective with exactly one of --maximize METRIC or --minimize METRIC."
        )
    space: dict[str, Any] = {}
    if args.space:
        given = shell.user_ns.get(args.space)
        if not isinstance(given, dict):
            raise UsageError(f"%%mlsweep --space: {args.space!r} is not a dict variable of this notebook.")
        space.update(given)
    space.update(space_options(rest))
    if not space:
        raise UsageError(
            '%%mlsweep: give the search space: --lr "loguniform(1e-4, 1e-1)" ... or --space NAME.'
        )
    if not args.target:
        raise UsageError("%%mlsweep: --target CLUSTER is needed (the trials run as jobs on its nodes).")
    transformed = shell.transform_cell(cell)
    if "get_ipython()" in transformed:
        raise UsageError("%%mlsweep: the cell must be plain Python (magics and !commands run only here).")
    try:
        variables = reads(transformed, shell.user_ns)
    except SyntaxError as err:
        raise UsageError(f"%%mlsweep: the cell does not parse: {err}") from None
    for name in space:
        variables.pop(name, None)  # the trial's value, not the notebook's
    import functools

    import cloudpickle

    from ..client.sweeps import cell_trial

    for key, value in variables.items():
        try:
            cloudpickle.dumps(value)
        except Exception as err:
            raise UsageError(
                f"%%mlsweep: the notebook variable {key!r} (read by the cell) cannot be shipped to the "
                f"nodes: {type(err).__name__}: {err}"
            ) from None
    trial = functools.partial(cell_trial, transformed, variables)
    ws = fluent.default_workspace()
    try:
        sweep = ws.jobs.sweep(
            trial,
            search_space=space,
            objective=args.maximize or args.minimize,
            goal="maximize" if args.maximize else "minimize",
            sampling=args.sampling,
            early_termination=policy(args.early_stop),
            max_trials=args.max_trials,
            max_concurrent_trials=args.concurrent,
            timeout=args.timeout,
            target=args.target,
            experiment=args.experiment or default_experiment_name(),
            name=args.name or "mlsweep",
            seed=args.seed,
        )
    except (InvalidParameter, NotFound) as err:
        raise UsageError(f"%%mlsweep: {err.message}") from None
    if args.out:
        shell.user_ns[args.out] = sweep
    if args.wait:
        sweep.wait()
    return sweep


def split(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as err:
        raise UsageError(f"%%mlsweep: {err}") from None
