"""What `ws.jobs.sweep` checks before anything is created (`sweeps.py`): the trial (a function, a
command or a notebook path), the search space, the objective, the goal, the sampling, the policy,
the counts, the timeout and a command's `${{search_space.<name>}}` placeholders, each a clear
`InvalidParameter`. (The sampling itself is set up by the sweep's driver, `jobs/sweep_driver.py`.)
"""

from __future__ import annotations

import math
import re
from typing import Any

from ..errors import InvalidParameter

SAMPLERS = ("random", "grid", "bayesian", "tpe")


def check_sweep(
    trial: Any,
    search_space: Any,
    objective: Any,
    goal: Any,
    sampling: Any,
    early_termination: Any,
    max_trials: Any,
    max_concurrent_trials: Any,
    timeout: Any,
) -> tuple[dict[str, Any], Any, int, float | None]:
    from ..jobs import submit as sub
    from ..sweep import check_space, grid_space
    from ..sweep.policies import GOALS, Policy

    if not (callable(trial) or isinstance(trial, (list, tuple, str))):
        raise InvalidParameter("trial is a function, a command (a list of arguments) or a notebook path.")
    space = check_space(search_space)
    if not isinstance(objective, str) or not objective:
        raise InvalidParameter("objective is the name of the metric the trials log, e.g. 'auc'.")
    if goal not in GOALS:
        raise InvalidParameter(f"goal must be 'maximize' or 'minimize', not {goal!r}.")
    if sampling not in SAMPLERS:
        raise InvalidParameter(f"sampling must be one of {', '.join(SAMPLERS)}, not {sampling!r}.")
    if early_termination is not None and not isinstance(early_termination, Policy):
        raise InvalidParameter(
            "early_termination is a policy from jupyter_mlws.sweep: BanditPolicy, MedianStoppingPolicy, "
            "TruncationSelectionPolicy or ASHA."
        )
    for name, value in (("max_trials", max_trials), ("max_concurrent_trials", max_concurrent_trials)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10_000:
            raise InvalidParameter(f"{name} is a whole number from 1 to 10,000, not {value!r}.")
    grid = grid_space(space) if sampling == "grid" else None
    if grid is not None:
        max_trials = min(max_trials, math.prod(len(v) for v in grid.values()))
    seconds = sub.parse_timeout(timeout) if timeout is not None else None
    if isinstance(trial, (list, tuple)):
        text = " ".join(map(str, trial))
        unknown = [n for n in placeholders(text) if n not in space]
        if unknown:
            raise InvalidParameter(f"the command names {unknown[0]!r}, which the search space does not have.")
    return space, grid, max_trials, seconds


def placeholders(text: str) -> list[str]:
    return re.findall(r"\$\{\{search_space\.([A-Za-z_][A-Za-z0-9_.\-]*)\}\}", text)
