"""ONNX through the gate: a real onnxruntime session, and external data that points out of the model (S2)."""

from __future__ import annotations

import numpy as np
import pytest

from jupyter_mlws.errors import InvalidParameter

onnx = pytest.importorskip("onnx", reason="onnx is not installed (optional extra jupyter-mlws[onnx])")
pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (optional extra jupyter-mlws[onnx])")

W = np.array([[0.5], [-1.0], [2.0]], dtype=np.float32)
B = np.array([0.25], dtype=np.float32)


def _linear(weights: onnx.TensorProto) -> onnx.ModelProto:
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["XW"]), helper.make_node("Add", ["XW", "B"], ["Y"])],
        "linear",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 3])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 1])],
        [weights, numpy_helper.from_array(B, "B")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def test_onnx_model_predicts_like_numpy(ws, tmp_path):
    from onnx import numpy_helper

    path = tmp_path / "linear.onnx"
    onnx.save(_linear(numpy_helper.from_array(W, "W")), path)
    version = ws.models.register("linear", path, example=np.zeros((1, 3)))
    assert version.flavor == "onnx"
    x = np.array([[1, 2, 3], [0, 0, 1]], dtype=np.float32)
    got = ws.models.load("linear").predict({"columns": ["0", "1", "2"], "data": x.tolist()})
    assert np.allclose(got, x @ W + B)


@pytest.mark.catalogue("S2")
@pytest.mark.parametrize("location", ["../../etc/passwd", "/etc/passwd", "weights.bin"])
def test_external_data_outside_the_model_is_refused(ws, tmp_path, location):
    from onnx import TensorProto

    weights = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[3, 1])
    weights.data_location = TensorProto.EXTERNAL
    entry = weights.external_data.add()
    entry.key, entry.value = "location", location
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(_linear(weights).SerializeToString())
    ws.models.register("ext", folder)
    with pytest.raises(InvalidParameter, match=r"external data .* outside the model.s files \(.*\); refused"):
        ws.models.load("ext")
