"""Request counts and latency histograms of an endpoint.

Who calls this: each replica (`serving/replica.py`) records every /score answer in a
`ReplicaStats` and writes it as JSON to its stats file about once a second; the manager
(`serving/manager.py`) reads the files of every replica, `merge`s them and stores
`summary(...)` on the Endpoint (`update_endpoint(stats=...)`): {"requests", "errors",
"p50_ms", "p90_ms", "p99_ms", "per_deployment": {name: {"requests", "errors", "p50_ms", ...}}}.

Decisions: a fixed log-spaced histogram (edges from 10 µs to 120 s, ratio 1.2: ~90
buckets), so replicas merge by adding counts and recording costs one `bisect`. Percentiles
are the upper edge of the bucket they fall in (±20%), good enough for a dashboard.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

EDGES_MS: tuple[float, ...] = tuple(0.01 * 1.2**i for i in range(90))  # 0.01 ms .. ~130 s
NBUCKETS = len(EDGES_MS) + 1


class DeploymentStats:
    """Counts of one deployment inside one replica."""

    __slots__ = ("errors", "hist", "requests")

    def __init__(self) -> None:
        self.requests = 0
        self.errors = 0
        self.hist = [0] * NBUCKETS

    def record(self, ms: float, error: bool) -> None:
        self.requests += 1
        if error:
            self.errors += 1
        self.hist[bisect_left(EDGES_MS, ms)] += 1

    def to_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "errors": self.errors, "hist": self.hist}


class ReplicaStats:
    """Everything one replica served since it started, by deployment ("" = no deployment)."""

    def __init__(self) -> None:
        self.by_deployment: dict[str, DeploymentStats] = {}

    def get(self, deployment: str) -> DeploymentStats:
        found = self.by_deployment.get(deployment)
        if found is None:
            found = self.by_deployment[deployment] = DeploymentStats()
        return found

    def to_dict(self) -> dict[str, Any]:
        return {name: d.to_dict() for name, d in self.by_deployment.items()}


def merge(snapshots: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Add the per-deployment counts of several replica snapshots (their `to_dict()`)."""
    out: dict[str, dict[str, Any]] = {}
    for snap in snapshots:
        for name, d in snap.items():
            hist = d.get("hist") or []
            if len(hist) != NBUCKETS:
                continue
            acc = out.setdefault(name, {"requests": 0, "errors": 0, "hist": [0] * NBUCKETS})
            acc["requests"] += int(d.get("requests", 0))
            acc["errors"] += int(d.get("errors", 0))
            acc["hist"] = [a + b for a, b in zip(acc["hist"], hist, strict=True)]
    return out


def percentile(hist: list[int], q: float) -> float | None:
    """The latency (ms) under which a fraction `q` of the requests fall; None when empty."""
    total = sum(hist)
    if not total:
        return None
    rank = q * total
    seen = 0
    for i, n in enumerate(hist):
        seen += n
        if seen >= rank and n:
            return round(EDGES_MS[min(i, len(EDGES_MS) - 1)], 3)
    return round(EDGES_MS[-1], 3)


def _summary_of(d: dict[str, Any]) -> dict[str, Any]:
    hist = d["hist"]
    return {
        "requests": d["requests"],
        "errors": d["errors"],
        "p50_ms": percentile(hist, 0.50),
        "p90_ms": percentile(hist, 0.90),
        "p99_ms": percentile(hist, 0.99),
    }


def summary(merged: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The Endpoint.stats dict from `merge`'s answer (requests without a deployment count too)."""
    total: dict[str, Any] = {"requests": 0, "errors": 0, "hist": [0] * NBUCKETS}
    for d in merged.values():
        total["requests"] += d["requests"]
        total["errors"] += d["errors"]
        total["hist"] = [a + b for a, b in zip(total["hist"], d["hist"], strict=True)]
    out = _summary_of(total)
    out["per_deployment"] = {name: _summary_of(d) for name, d in merged.items() if name}
    return out
