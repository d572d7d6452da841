"""Torch weights back out of a shipped int8 ONNX reader, so a later training stage can start from it.

The reader is shipped as ONNX with int8 weights (``train_reader.export``); the
fp32 checkpoints of its training stages live in /tmp and do not survive the
machine. Each quantised weight is stored as int8 values with a per-channel
(MatMul) or per-tensor (embedding) scale and zero point, so
``scale x (q - zero_point)`` gives it back to within half a quantisation step.
The torch model it rebuilds agrees with the ONNX file up to the file's int8
activations (logit correlation 0.999 on validation pairs; checked by
``tests/test_training_tools.py``). The MatMul nodes are
named by the module path they were exported from
("/encoder/encoder/layer.0/attention/self/query/MatMul_quant"), which gives the
torch name; their weight is the transpose of the torch Linear's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def dequantized_state(onnx_file: str | Path) -> dict[str, np.ndarray]:
    """Every weight the ONNX file holds, under its torch ``state_dict`` name, as float32."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_file)).graph
    values = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    state: dict[str, np.ndarray] = {}

    def dequantize(base: str) -> np.ndarray:
        q = values[f"{base}_quantized"].astype(np.float32)
        return (q - values[f"{base}_zero_point"].astype(np.float32)) * values[f"{base}_scale"].astype(np.float32)

    for name, value in values.items():  # biases, layer norms: kept in float32 under their torch names
        if not name.startswith("onnx::") and not name.endswith(("_quantized", "_scale", "_zero_point")) \
                and value.dtype == np.float32 and value.ndim >= 1:
            state[name] = value
    for node in graph.node:
        if node.op_type == "Gather" and node.input[0].endswith(".weight_quantized"):  # embeddings
            base = node.input[0][: -len("_quantized")]
            state[base] = dequantize(base)
        elif node.op_type == "MatMulInteger" and node.input[1] in values:
            base = node.input[1][: -len("_quantized")]
            module = node.name.strip("/").rsplit("/", 1)[0].replace("/", ".")  # "encoder.encoder.layer.0.attention.self.query"
            state[f"{module}.weight"] = dequantize(base).T.copy()
    return state


def load_into(model, onnx_file: str | Path) -> list[str]:  # type: ignore[no-untyped-def]
    """Copy the ONNX file's weights into ``model`` (``train_reader.build_model``); return the parameters it did not hold.

    Raises:
        ValueError: a weight of the file has no parameter of that name and shape in the model.
    """
    import torch

    own = model.state_dict()
    found = dequantized_state(onnx_file)
    for name, value in found.items():
        if name not in own or tuple(own[name].shape) != value.shape:
            raise ValueError(f"{onnx_file}: weight {name} {value.shape} does not fit the reader model")
        own[name] = torch.tensor(value)  # a copy: the file's arrays are read-only
    model.load_state_dict(own)
    return sorted(n for n in own if n not in found)
