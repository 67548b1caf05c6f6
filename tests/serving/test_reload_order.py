"""A replica's reloads finish in the order the config changed (the rotated key is the one in force).

Found by a CI run: a deploy and a key rotation close together sent two SIGHUPs; the first reload,
slower (it loaded the model), finished after the second and put the older config back, so the new
key was refused with 401. Reloads now run one at a time, each reading the file when its turn comes.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from jupyter_mlws.serving import replica as replica_module


def test_the_newest_config_wins_when_two_reloads_overlap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"generation": 1}))
    loaded: list[int] = []

    def slow_first(given: dict[str, Any], previous: Any = None) -> dict[str, Any]:
        # the first load takes long (a model loading), the second is quick
        time.sleep(0.5 if given["generation"] == 1 else 0.01)
        loaded.append(given["generation"])
        return given

    monkeypatch.setattr(replica_module, "load_state", slow_first)
    monkeypatch.setattr(replica_module, "_freeze_heap", lambda: None)

    async def two_sighups() -> Any:
        server = replica_module.Replica(config)
        monkeypatch.setattr(server, "write_stats", lambda: None)
        first = asyncio.get_running_loop().create_task(server._reload())
        await asyncio.sleep(0.05)  # the first reload has read generation 1 and is loading it
        config.write_text(json.dumps({"generation": 2}))
        second = asyncio.get_running_loop().create_task(server._reload())
        await asyncio.gather(first, second)
        return server.state

    state = asyncio.run(two_sighups())
    assert state == {"generation": 2}, f"loads finished in the order {loaded}; the state is {state}"
