"""RELIABILITY P6: no server-side connection to a place a caller names inside the server's networks.

The one connection this server opens to a caller's address is an attached Dask scheduler
(`POST /compute/clusters` with `address`); the MLflow API's model sources name files the workspace
holds. A canary (a real TCP listener on 127.0.0.1 that counts the connections it accepts) stands
for the internal service an attacker wants reached: every spelling of its address, a name that
resolves to it, and the cloud metadata and private addresses are refused with a 400 that names the
kind of address, nothing is stored, and the canary accepts nothing. A DNS answer that changes
between the check and the connection (rebinding) cannot move the connection: the checked address
is the one connected to, and the name is resolved once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jupyter_mlws.errors import InvalidParameter
from jupyter_mlws.outbound import LOCAL_CALLER_NETWORKS, OutboundPolicy, pinned_url

from ..canary import Canary
from .api_helpers import Api

pytestmark = pytest.mark.catalogue("P6")


@pytest.fixture
def jp_server_config(jp_root_dir: Path) -> dict:
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_mlws": True}, "allow_unauthenticated_access": False},
        "MLWorkspaceApp": {
            "workspace": str(jp_root_dir / "ws"),
            "cluster_interval": 0,
            "compute_interval": 0,
            "outbound_allowed_networks": [],  # a server reachable from the network: none allowed
        },
    }


def _corpus(port: int) -> list[str]:
    return [
        f"tcp://127.0.0.1:{port}",
        f"tcp://localhost:{port}",  # a name that resolves to loopback
        f"tcp://[::1]:{port}",
        f"tcp://[::ffff:127.0.0.1]:{port}",  # IPv4-mapped IPv6
        f"tcp://2130706433:{port}",  # 127.0.0.1 as one number
        f"tcp://0x7f.1:{port}",  # and in hexadecimal
        f"tcp://0177.0.0.1:{port}",  # and in octal
        f"tcp://0.0.0.0:{port}",  # the unspecified address reaches this machine
        f"tls://127.0.0.1:{port}",
        "tcp://169.254.169.254:80",  # cloud metadata
        "tcp://[fe80::1]:80",
        "tcp://10.0.0.1:8786",
        "tcp://172.16.0.1:8786",
        "tcp://192.168.1.1:8786",
        "tcp://100.64.0.1:8786",
        "tcp://[fd00::1]:8786",
    ]


async def test_attaching_a_scheduler_at_an_internal_address_makes_no_connection(
    api: Api, canary: Canary
) -> None:
    for address in _corpus(canary.port):
        answer = await api.call("POST", "/compute/clusters", {"name": "probe", "address": address})
        message = json.loads(answer.body).get("message", "")
        assert answer.code == 400, (address, answer.code, message)
        assert "this server does not connect there" in message, (address, message)
        assert "outbound_allowed_networks" in message, message  # the way out is named
    # a scheme that is not a Dask comm is refused by name (the validation's schemes pass here)
    for address in (f"http://127.0.0.1:{canary.port}", f"https://127.0.0.1:{canary.port}"):
        answer = await api.call("POST", "/compute/clusters", {"name": "probe", "address": address})
        assert answer.code == 400, (address, answer.code)
        assert "is not one this server connects with" in json.loads(answer.body)["message"]
    assert (await api.json("GET", "/compute/clusters"))["clusters"] == []
    assert canary.accepted == 0


async def test_a_model_source_naming_a_host_is_refused_without_a_connection(
    http_server_client: Any, jp_base_url: str, jp_auth_header: dict[str, str], canary: Canary
) -> None:
    base = f"{jp_base_url.rstrip('/')}/mlws/mlflow/api/2.0/mlflow/"
    headers = {"Content-Type": "application/json", **jp_auth_header}

    async def post(path: str, body: dict) -> Any:
        return await http_server_client.fetch(
            base + path, method="POST", body=json.dumps(body), headers=headers, raise_error=False
        )

    assert (await post("registered-models/create", {"name": "churn"})).code == 200
    for source in (
        f"http://127.0.0.1:{canary.port}/model",
        f"https://localhost:{canary.port}/model",
        "http://169.254.169.254/latest/meta-data/",
        f"mlflow-artifacts://127.0.0.1:{canary.port}/0/r/artifacts/model",
        f"s3://127.0.0.1:{canary.port}/bucket/model",
    ):
        answer = await post("model-versions/create", {"name": "churn", "source": source})
        assert answer.code == 400, (source, answer.code)
    made = await post("experiments/create", {"name": "e", "artifact_location": f"http://127.0.0.1:{canary.port}/"})
    assert made.code == 400
    assert canary.accepted == 0


def test_every_resolved_address_is_checked_and_the_checked_one_is_connected_to(canary: Canary) -> None:
    """DNS: a name with one internal address among public ones is refused; a name that rebinds to
    loopback after the check is still connected to at the address that was checked."""
    asked: list[str] = []

    def mixed(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["93.184.215.14", "127.0.0.1"]

    with pytest.raises(InvalidParameter, match=r"'db.example' \(127.0.0.1\) is a loopback address"):
        pinned_url(f"tcp://db.example:{canary.port}", ("tcp",), OutboundPolicy([], resolver=mixed), "x")

    answers = iter([["93.184.215.15"], ["127.0.0.1"]])  # public at the check, loopback afterwards

    def rebinding(host: str, port: int) -> list[str]:
        asked.append(host)
        return next(answers)

    pinned = pinned_url(
        f"tcp://rebind.example:{canary.port}", ("tcp",), OutboundPolicy([], resolver=rebinding), "x"
    )
    assert pinned == f"tcp://93.184.215.15:{canary.port}"  # the checked address, not the name
    assert asked == ["db.example", "rebind.example"], "each name is resolved once"
    assert canary.accepted == 0


def test_the_owner_chooses_the_networks_and_special_addresses_stay_closed() -> None:
    local = OutboundPolicy.for_server(["auto"], loopback_only=True)
    assert pinned_url("tcp://localhost:8786", ("tcp",), local, "x") == "tcp://127.0.0.1:8786"
    assert pinned_url("tcp://10.1.2.3:8786", ("tcp",), local, "x") == "tcp://10.1.2.3:8786"
    with pytest.raises(InvalidParameter, match="link-local"):
        pinned_url("tcp://169.254.169.254:80", ("tcp",), local, "x")
    exposed = OutboundPolicy.for_server(["auto"], loopback_only=False)
    with pytest.raises(InvalidParameter, match="private network"):
        pinned_url("tcp://10.1.2.3:8786", ("tcp",), exposed, "x")
    assert OutboundPolicy.for_server(["auto", "10.1.0.0/16"], loopback_only=False).allowed != ()
    team = OutboundPolicy.for_server(["10.1.0.0/16"], loopback_only=False)
    assert pinned_url("tcp://10.1.2.3:8786", ("tcp",), team, "x") == "tcp://10.1.2.3:8786"
    with pytest.raises(InvalidParameter, match="private network"):
        pinned_url("tcp://10.2.0.1:8786", ("tcp",), team, "x")
    with pytest.raises(InvalidParameter, match="Not a network"):
        OutboundPolicy(["ten.one"])
    for bad in ("tcp://127.0.0.1", "tcp://user:pw@127.0.0.1:1", "127.0.0.1:8786"):
        with pytest.raises(InvalidParameter):
            pinned_url(bad, ("tcp",), OutboundPolicy(LOCAL_CALLER_NETWORKS), "x")
