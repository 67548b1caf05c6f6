"""Store contract: run search (filter grammar, order, paging), on every backend."""

from __future__ import annotations

import math

import pytest

from jupyter_mlws.errors import InvalidParameter

T0 = 1_700_000_000_000


@pytest.fixture
def runs(store) -> dict[str, str]:
    """Six runs in two experiments with params, metrics and tags; returns name -> run_id."""
    churn = store.create_experiment("churn").experiment_id
    fraud = store.create_experiment("fraud").experiment_id
    made = {}
    for i, (lr, acc, team) in enumerate(
        [
            ("0.01", 0.95, "a"),
            ("0.1", 0.80, "a"),
            ("0.01", 0.91, "b"),
            ("0.001", 0.50, "b"),
            ("0.01", math.nan, "a"),
        ]
    ):
        run = store.create_run(churn, name=f"r{i}", start_time=T0 + i * 1000, tags={"team": team}).info
        store.log_batch(
            run.run_id, metrics=[("acc", acc, 1, T0), ("train/loss", 1 - i / 10, 1, T0)], params={"lr": lr}
        )
        made[run.name] = run.run_id
    other = store.create_run(fraud, name="o", start_time=T0 + 10_000).info
    store.log_param(other.run_id, "lr", "0.01")
    made["o"] = other.run_id
    store.end_run(made["r0"], "completed")
    store.end_run(made["r1"], "failed")
    return made


def _names(table) -> list[str]:
    return [info.name for info in table.runs]


def test_filter_on_metrics_params_tags_and_status(store, runs) -> None:
    found = store.search_runs(
        filter="metrics.acc > 0.9 and params.lr = '0.01' and tags.team = 'a' and status = 'completed'"
    )
    assert _names(found) == ["r0"]
    found = store.search_runs(filter="metrics.acc >= 0.9", order_by=["metrics.acc desc"])
    assert _names(found) == ["r0", "r2"]  # the NaN run never matches a comparison


def test_or_not_parentheses_in_like_and_attributes(store, runs) -> None:
    assert sorted(
        _names(store.search_runs(filter="status = 'failed' or (tags.team = 'b' and not params.lr = '0.001')"))
    ) == ["r1", "r2"]
    assert sorted(_names(store.search_runs(filter="params.lr in ('0.1', '0.001')"))) == ["r1", "r3"]
    assert sorted(_names(store.search_runs(filter="params.lr not in ('0.01')"))) == ["r1", "r3"]
    assert sorted(
        _names(
            store.search_runs(
                filter="name like 'r%' and experiment = 'churn' and start_time >= 1700000003000"
            )
        )
    ) == ["r3", "r4"]
    assert _names(store.search_runs(filter="name LIKE 'R%'")) == []  # like is case-sensitive everywhere
    assert len(store.search_runs(filter="name ilike 'R%'").runs) == 5
    assert _names(store.search_runs(filter="metrics.`train/loss` < 0.65")) == ["r4"]
    assert _names(store.search_runs(filter="metrics.acc is null")) == ["o"]
    assert _names(store.search_runs(filter="end_time is not null", order_by=["name"])) == ["r0", "r1"]
    assert _names(store.search_runs(filter="start_time > '2023-11-14T22:13:25+00:00'")) == ["o"]


def test_user_text_never_becomes_sql(store, runs) -> None:
    hostile = "x' OR '1'='1"
    assert store.search_runs(filter=f"params.lr = '{hostile.replace(chr(39), chr(39) * 2)}'").runs == []
    assert store.search_runs(filter="tags.`team' OR 1=1 --` = 'a'").runs == []
    assert len(store.search_runs().runs) == 6  # nothing was dropped or changed


def test_columns_are_aligned_with_runs(store, runs) -> None:
    churn = store.get_experiment_by_name("churn").experiment_id
    table = store.search_runs(experiment_ids=[churn], order_by=["start_time asc"])
    assert _names(table) == ["r0", "r1", "r2", "r3", "r4"]
    assert table.experiment_names == ["churn"] * 5
    assert table.params["lr"] == ["0.01", "0.1", "0.01", "0.001", "0.01"]
    assert table.metrics["acc"][:4] == [0.95, 0.80, 0.91, 0.50] and math.isnan(table.metrics["acc"][4])
    assert table.tags["team"] == ["a", "a", "b", "b", "a"]


def test_order_by_metric_puts_missing_last(store, runs) -> None:
    table = store.search_runs(order_by=["metrics.acc asc"])
    assert _names(table)[:4] == ["r3", "r1", "r2", "r0"]
    assert set(_names(table)[4:]) == {"r4", "o"}


def test_paging_covers_every_run_once(store, runs) -> None:
    seen, token, pages = [], None, 0
    while True:
        page = store.search_runs(order_by=["name asc"], limit=4, page_token=token)
        seen += _names(page)
        pages += 1
        token = page.next_page_token
        if token is None:
            break
    assert pages == 2 and seen == sorted(runs)
    with pytest.raises(InvalidParameter, match="page token"):
        store.search_runs(page_token="garbage!")
    with pytest.raises(InvalidParameter, match="limit"):
        store.search_runs(limit=0)


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("metrics.acc >", 13),
        ("metrics.acc > 'high'", 14),
        ("params.lr = 0.01", 12),
        ("bogus = 1", 0),
        ("status = 'done'", 9),
        ("metrics.acc > 1 and", 19),
        ("(metrics.acc > 1", 16),
        ("name = 'a' name", 11),
        ("metrics.acc ~ 1", 12),
    ],
)
def test_bad_filters_name_the_position(store, text, position) -> None:
    with pytest.raises(InvalidParameter, match=f"position {position}:"):
        store.search_runs(filter=text)


def test_bad_order_by(store) -> None:
    with pytest.raises(InvalidParameter, match="position"):
        store.search_runs(order_by=["metrics.acc sideways"])
