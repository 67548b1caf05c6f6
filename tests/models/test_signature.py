"""Signatures: inferred from examples; scoring payloads turned into typed frames, or refused clearly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jupyter_mlws.errors import InvalidParameter
from jupyter_mlws.models.signature import infer_signature, to_frame

SIG = {
    "inputs": [
        {"name": "age", "type": "long"},
        {"name": "income", "type": "double"},
        {"name": "city", "type": "string"},
        {"name": "vip", "type": "boolean"},
    ]
}
EXPECTED = pd.DataFrame(
    {"age": [30, 41], "income": [1.5, 2.0], "city": ["Oslo", "Lima"], "vip": [True, False]}
)


def test_infer_from_frame_array_records_and_columns():
    frame = pd.DataFrame(
        {
            "n": [1, 2],
            "x": [0.5, 1.0],
            "s": ["a", "b"],
            "b": [True, False],
            "t": pd.to_datetime(["2024-01-01", "2024-01-02"]),
        }
    )
    types = [c["type"] for c in infer_signature(frame)["inputs"]]
    assert types == ["long", "double", "string", "boolean", "datetime"]
    assert infer_signature(np.zeros((3, 2)))["inputs"] == [
        {"name": "0", "type": "double"},
        {"name": "1", "type": "double"},
    ]
    assert infer_signature({"a": [1, 2], "b": ["x", "y"]})["inputs"][1] == {"name": "b", "type": "string"}
    sig = infer_signature([{"a": 1}], output=np.array([0.5]))
    assert sig["outputs"] == [{"name": "0", "type": "double"}]
    with pytest.raises(InvalidParameter, match="Cannot infer"):
        infer_signature("text")


@pytest.mark.parametrize(
    "payload",
    [
        [
            {"age": 30, "income": 1.5, "city": "Oslo", "vip": True, "id": 7},
            {"age": 41, "income": 2, "city": "Lima", "vip": False},
        ],
        {
            "dataframe_records": [
                {"vip": True, "city": "Oslo", "income": 1.5, "age": 30},
                {"vip": False, "city": "Lima", "income": 2.0, "age": 41.0},
            ]
        },
        {
            "dataframe_split": {
                "columns": ["city", "age", "income", "vip"],
                "data": [["Oslo", 30, 1.5, True], ["Lima", 41, 2.0, False]],
            }
        },
        {
            "columns": ["age", "income", "city", "vip"],
            "data": [[30, 1.5, "Oslo", True], [41, 2, "Lima", False]],
        },
        [[30, 1.5, "Oslo", True], [41, 2.0, "Lima", False]],
        "age,income,city,vip\n30,1.5,Oslo,true\n41,2,Lima,false\n",
        b'[{"age": 30, "income": 1.5, "city": "Oslo", "vip": true}, '
        b'{"age": 41, "income": 2.0, "city": "Lima", "vip": false}]',
    ],
    ids=["records", "dataframe_records", "dataframe_split", "split", "rows", "csv", "json-bytes"],
)
def test_payload_shapes_give_the_same_typed_frame(payload):
    frame = to_frame(payload, SIG)
    pd.testing.assert_frame_equal(frame, EXPECTED)
    assert frame["age"].dtype == np.int64 and frame["income"].dtype == np.float64


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([{"age": 30, "income": 1.5, "city": "Oslo"}], r"Column 'vip' is missing in record 0"),
        (
            [{"age": "thirty", "income": 1.5, "city": "Oslo", "vip": True}],
            r"Column 'age' expects long; row 0",
        ),
        ([{"age": 30, "income": "1.5", "city": "Oslo", "vip": True}], r"Column 'income' expects double"),
        ([{"age": 30.5, "income": 1.5, "city": "Oslo", "vip": True}], r"'age' expects long"),
        ([{"age": 30, "income": 1.5, "city": 3, "vip": True}], r"'city' expects string"),
        ([{"age": True, "income": 1.5, "city": "x", "vip": True}], r"'age' expects long"),
        ({"dataframe_split": {"columns": ["age"], "data": [[1]]}}, r"Column 'income' is missing"),
        ({"columns": ["age"], "data": [[1, 2]]}, r"Row 0 does not have 1 values"),
        ("age,income,city\n1,2,x\n", r"Column 'vip' is missing from the CSV header"),
        ("age,income,city,vip\nx,2,x,true\n", r"'age' expects long; CSV row 0 has 'x'"),
        ({"instances": []}, r"Expected JSON records"),
        ("[{not json", r"not valid JSON"),
        (42, r"Expected a list of records"),
        ([1, 2], r"Record 0 is a int"),
        (b"\xff\xfe", r"not UTF-8"),
    ],
)
def test_mismatches_are_named(payload, message):
    with pytest.raises(InvalidParameter, match=message):
        to_frame(payload, SIG)


def test_without_signature_frames_are_built_as_given():
    assert list(to_frame([{"a": 1, "b": "x"}], None).columns) == ["a", "b"]
    assert to_frame("a,b\n1,2\n", None)["b"].tolist() == [2]
    with pytest.raises(InvalidParameter, match="need a model signature"):
        to_frame([[1, 2]], None)


def test_null_is_nan_for_double_and_datetimes_parse():
    sig = {"inputs": [{"name": "x", "type": "double"}, {"name": "t", "type": "datetime"}]}
    frame = to_frame([{"x": None, "t": "2024-05-01T10:00:00"}], sig)
    assert np.isnan(frame["x"][0]) and frame["t"][0] == pd.Timestamp("2024-05-01 10:00")
    with pytest.raises(InvalidParameter, match="'t' expects datetime"):
        to_frame([{"x": 1.0, "t": "not a date"}], sig)
