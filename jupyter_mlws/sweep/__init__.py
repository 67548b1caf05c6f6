"""Hyperparameter sweeps (issue 18), with Optuna as the sampling and pruning engine.

What is here so far: the search space (`space.py`: choice, randint, uniform, quniform, loguniform,
qloguniform, normal, lognormal, checked when written and sampled through an Optuna trial) and the
early termination policies with Azure ML's names (`policies.py`: BanditPolicy,
MedianStoppingPolicy, TruncationSelectionPolicy, ASHA, each carried out by an Optuna pruner).
`ws.jobs.sweep(...)`, its runs, `%%mlsweep` and the widget build on these (issue 18, next).

Importing this package imports Optuna (a dependency since issue 18); nothing else in
jupyter_mlws imports it until a sweep is made.
"""

from __future__ import annotations

from .policies import (
    ASHA,
    BanditPolicy,
    MedianStoppingPolicy,
    TruncationSelectionPolicy,
    parse_policy,
    policy_from_dict,
    policy_to_dict,
)
from .space import (
    check_space,
    choice,
    grid_space,
    lognormal,
    loguniform,
    normal,
    parse,
    qloguniform,
    quniform,
    randint,
    space_from_texts,
    space_to_texts,
    suggest,
    uniform,
)

__all__ = [
    "ASHA",
    "BanditPolicy",
    "MedianStoppingPolicy",
    "TruncationSelectionPolicy",
    "check_space",
    "choice",
    "grid_space",
    "lognormal",
    "loguniform",
    "normal",
    "parse",
    "parse_policy",
    "policy_from_dict",
    "policy_to_dict",
    "qloguniform",
    "quniform",
    "randint",
    "space_from_texts",
    "space_to_texts",
    "suggest",
    "uniform",
]
