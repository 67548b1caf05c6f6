"""RELIABILITY P9: names and keys — documented limits, NFC, and errors that name the rule."""

from __future__ import annotations

import unicodedata

import pytest

from jupyter_mlws.errors import InvalidParameter, NotFound
from jupyter_mlws.validation import KEY_MAX, NAME_MAX, validate_key, validate_name

BAD_NAMES = [
    ("", "empty"),
    (" lead", "whitespace"),
    ("trail ", "whitespace"),
    ("zero\u200bwidth", "U\\+200B"),
    ("bidi\u202eoverride", "U\\+202E"),
    ("tab\there", "U\\+0009"),
    ("nbsp\u00a0x", "U\\+00A0"),
    ("a/../b", "'..'"),
    ("./a", "'.'"),
    ("a/", "slashes"),
    ("a//b", "slashes"),
    ("my%20model", "'%'"),
    ("back\\slash", "'\\\\\\\\'"),
]


@pytest.mark.catalogue("P9")
@pytest.mark.parametrize(("name", "why"), BAD_NAMES)
def test_bad_names_are_refused_with_the_reason(store, name, why) -> None:
    with pytest.raises(InvalidParameter, match=why):
        store.create_experiment(name)
    assert store.list_experiments() == []


@pytest.mark.catalogue("P9")
def test_name_limit_and_limit_plus_one(store) -> None:
    ok = "n" * NAME_MAX
    assert store.create_experiment(ok).name == ok
    with pytest.raises(InvalidParameter, match=f"limit is {NAME_MAX}"):
        store.create_experiment("n" * (NAME_MAX + 1))


@pytest.mark.catalogue("P9")
def test_key_limit_and_limit_plus_one(store) -> None:
    run_id = store.create_run(store.create_experiment("e").experiment_id).info.run_id
    store.log_param(run_id, "k" * KEY_MAX, 1)
    with pytest.raises(InvalidParameter, match=f"limit is {KEY_MAX}"):
        store.log_param(run_id, "k" * (KEY_MAX + 1), 1)
    assert list(store.get_run(run_id).data.params) == ["k" * KEY_MAX]


@pytest.mark.catalogue("P9")
def test_unicode_names_are_fine_and_nfd_twins_collapse(store) -> None:
    for name in ("émoji 🚀", "שלום", "日本語/実験"):
        assert store.create_experiment(name).name == name
    nfd = unicodedata.normalize("NFD", "Ångström")
    assert store.create_experiment(nfd).name == unicodedata.normalize("NFC", nfd)


@pytest.mark.catalogue("P9")
def test_nfd_key_twins_in_one_batch_with_different_values_are_refused(store) -> None:
    run_id = store.create_run(store.create_experiment("e").experiment_id).info.run_id
    nfc, nfd = unicodedata.normalize("NFC", "é"), unicodedata.normalize("NFD", "é")
    with pytest.raises(InvalidParameter, match="twice"):
        store.log_params(run_id, {nfc: "1", nfd: "2"})
    store.log_params(run_id, {nfc: "1", nfd: "1"})
    assert store.get_run(run_id).data.params == {nfc: "1"}


@pytest.mark.parametrize("key", ["loss", "train/loss", "val acc", "a:b", "x.y-z_1", "größe"])
def test_good_keys(key) -> None:
    assert validate_key("Metric key", key) == key


@pytest.mark.catalogue("P9")
@pytest.mark.parametrize("key", ["emoji🚀", "a,b", "x=y", "q'uote", 'dq"', "semi;colon", 5, None])
def test_keys_outside_the_alphabet_are_refused(key) -> None:
    with pytest.raises(InvalidParameter):
        validate_key("Metric key", key)


def test_names_are_strings() -> None:
    with pytest.raises(InvalidParameter, match="string"):
        validate_name("Experiment name", 42)


@pytest.mark.parametrize("bad", [0, -1, 2**63, 2**70, True, "1"])
def test_experiment_ids_out_of_range_are_invalid_not_crashes(store, bad) -> None:
    """Found by the API fuzz: an id past SQLite's 64-bit integers crashed the driver."""
    for call in (
        lambda: store.get_experiment(bad),
        lambda: store.search_runs(experiment_ids=[bad]),
        lambda: store.rename_experiment(bad, "x"),
        lambda: store.delete_experiment(bad),
        lambda: store.create_run(bad),
    ):
        with pytest.raises((InvalidParameter, NotFound)):
            call()


@pytest.mark.catalogue("P3")
@pytest.mark.parametrize(
    "location",
    ["file:///etc", "http:///#/../../etc", "../../", "mlflow-artifacts:/../", "/etc", "a/../../b", "C:/x",
     "s3://bucket/x", "%2e%2e/x"],
)
def test_artifact_locations_outside_the_store_are_refused(store, location) -> None:
    """RELIABILITY P3: a location that points anywhere but inside the artifact store is refused."""
    with pytest.raises(InvalidParameter, match="artifact store"):
        store.create_experiment("p3", artifact_location=location)
    assert store.get_experiment_by_name("p3") is None
    good = store.create_experiment("p3", artifact_location="team-a/churn")
    assert store.get_experiment(good.experiment_id).artifact_location == "team-a/churn"


@pytest.mark.catalogue("P9")
def test_a_trailing_newline_makes_no_twin_of_a_registry_compute_or_data_name() -> None:
    """`re.match` with `$` let "churn\\n" through as a second model "churn" (P9: no two entities
    may stand for the same name); every name rule now anchors at the very end."""
    from jupyter_mlws.compute.spec import validate_instance
    from jupyter_mlws.validation import (
        validate_alias,
        validate_data_name,
        validate_endpoint_name,
        validate_model_name,
    )

    for check, good in [
        (validate_model_name, "churn"),
        (validate_data_name, "batch-data"),
        (validate_alias, "production"),
        (validate_endpoint_name, "churn-api"),
        (lambda name: validate_instance(name).name, "cpu-small"),
    ]:
        assert check(good) == good
        for twin in (good + "\n", good + "\r\n", "\n" + good):
            with pytest.raises(InvalidParameter):
                check(twin)
