"""`PATCH /experiments/{id}` with tags, and the tags in every experiment answer (pytest-jupyter).

The runs table keeps its saved column sets in the experiment tag `mlws.ui.column_sets`; these
tests check the route it uses: set, overwrite, keep the others, refuse bad input with a 400
that says what is wrong, and stay behind Jupyter's authentication like its neighbours.
"""

from __future__ import annotations

import json

from .api_helpers import Api, error_of

COLUMN_SETS = "mlws.ui.column_sets"


async def _experiment(api: Api, name: str = "tagged") -> int:
    created = await api.json("POST", "/experiments", {"name": name}, expect=201)
    assert created["tags"] == {}
    return int(created["experiment_id"])


async def test_tags_are_set_overwritten_and_kept(api: Api) -> None:
    eid = await _experiment(api)
    sets = json.dumps({"losses": ["metrics.loss", "params.lr"]})
    patched = await api.json("PATCH", f"/experiments/{eid}", {"tags": {COLUMN_SETS: sets, "team": "a"}})
    assert patched["tags"] == {COLUMN_SETS: sets, "team": "a"}
    assert patched["name"] == "tagged"
    # Overwrite one key: the other stays; the experiment's get and list answer the same tags.
    again = await api.json("PATCH", f"/experiments/{eid}", {"tags": {"team": "b"}})
    assert again["tags"] == {COLUMN_SETS: sets, "team": "b"}
    assert (await api.json("GET", f"/experiments/{eid}"))["tags"] == again["tags"]
    listed = (await api.json("GET", "/experiments"))["experiments"]
    assert [e["tags"] for e in listed] == [again["tags"]]
    by_name = (await api.json("GET", "/experiments?name=tagged"))["experiments"]
    assert by_name[0]["tags"] == again["tags"]


async def test_a_rename_still_works_alone_and_with_tags(api: Api) -> None:
    eid = await _experiment(api)
    renamed = await api.json("PATCH", f"/experiments/{eid}", {"name": "renamed"})
    assert renamed["name"] == "renamed" and renamed["tags"] == {}
    both = await api.json("PATCH", f"/experiments/{eid}", {"name": "both", "tags": {"k": "v"}})
    assert both["name"] == "both" and both["tags"] == {"k": "v"}


async def test_bad_patches_are_400_and_change_nothing(api: Api) -> None:
    eid = await _experiment(api)
    bad_bodies = [
        {},  # nothing to change
        {"tags": {}},  # nothing to change either
        {"tags": {"k": 1}},  # a value must be text
        {"tags": ["k", "v"]},  # tags are an object
        {"tags": {"bad\nkey": "v"}},  # the store's key rules
        {"tags": {"k": "x" * 8001}},  # the store's value limit
        {"tags": {f"k{i}": "v" for i in range(51)}},  # too many for one request
        {"colour": "red"},  # unknown field
    ]
    for body in bad_bodies:
        response = await api.call("PATCH", f"/experiments/{eid}", body)
        assert response.code == 400, (body, response.code, response.body[:300])
        assert error_of(response)["error"] == "invalid_parameter"
    not_json = await api.call("PATCH", f"/experiments/{eid}", raw=b"{tags")
    assert not_json.code == 400
    assert (await api.json("GET", f"/experiments/{eid}"))["tags"] == {}
    nothing = await api.call("PATCH", f"/experiments/{eid}", {})
    assert "name or some tags" in error_of(nothing)["message"]


async def test_unknown_and_malformed_ids(api: Api) -> None:
    missing = await api.call("PATCH", "/experiments/987654", {"tags": {"k": "v"}})
    assert missing.code == 404 and error_of(missing)["error"] == "not_found"
    malformed = await api.call("PATCH", "/experiments/abc", {"tags": {"k": "v"}})
    assert malformed.code == 400


async def test_anonymous_patch_is_refused(api: Api) -> None:
    eid = await _experiment(api)
    anonymous = await api.call(
        "PATCH", f"/experiments/{eid}", {"tags": {"k": "v"}}, headers={"Authorization": ""}
    )
    assert anonymous.code == 403
    assert (await api.json("GET", f"/experiments/{eid}"))["tags"] == {}
