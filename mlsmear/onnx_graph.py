"""ONNX graphs of a :class:`~mlsmear.network.SmearNet`, built from its weights (no exporter).

The engine samples head by head (head ``k`` reads the normal scores of quantities ``0 … k−1``
sampled just before), so a network is ``n_quantities`` graphs:

- ``0``: input rows ``x`` ``(n, n_inputs)`` → trunk features ``h`` ``(n, trunk[-1])`` and head 0's
  probabilities ``p`` ``(n, n_categories)``;
- ``k ≥ 1``: ``h`` and the scores ``s`` ``(n, k)`` → head ``k``'s probabilities ``p``.

Each layer is what :class:`torch.nn.Linear` + :class:`torch.nn.SiLU` compute (``Gemm``;
``x · Sigmoid(x)``); the first layer of head ``k`` is ``Gemm(h) + MatMul(s)`` (its weight split
by columns) rather than a product with ``[h, s]``, so that ``h`` is never copied into a
concatenation, and each graph ends in a float32 ``Softmax``. The graphs are float32, opset 17,
and are built in memory from the network's tensors: nothing is read from disk, nothing exported.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from .network import SmearNet

__all__ = ["OPSET", "network_graphs"]

#: ONNX operator set of the graphs (every operator used exists unchanged since opset 13).
OPSET = 17
#: IR version of the graphs (read by onnxruntime ≥ 1.15).
_IR_VERSION = 9


class _Builder:
    """Nodes and initialisers of one graph, with names made unique by a counter."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def name(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def constant(self, array: np.ndarray, stem: str) -> str:
        name = self.name(stem)
        self.initializers.append(
            numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name)
        )
        return name

    def node(self, op: str, inputs: list[str], **attributes: Any) -> str:
        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attributes))
        return out

    def linear(self, x: str, layer: nn.Module) -> str:
        """``x Wᵀ + b`` of a :class:`torch.nn.Linear`."""
        weight, bias = _weights(layer)
        return self.node("Gemm", [x, self.constant(weight, "w"), self.constant(bias, "b")],
                         transB=1)

    def silu(self, x: str) -> str:
        return self.node("Mul", [x, self.node("Sigmoid", [x])])

    def model(self, inputs: list[tuple[str, int]], outputs: list[tuple[str, str, int]]) -> bytes:
        """Serialised model: ``inputs`` (name, columns) and ``outputs`` (graph value, name,
        columns), every one float32 ``(n, columns)``."""
        for value, name, _ in outputs:
            self.nodes.append(helper.make_node("Identity", [value], [name], name=f"out_{name}"))
        graph = helper.make_graph(
            self.nodes, "smearnet",
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["n", c]) for n, c in inputs],
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["n", c])
             for _, n, c in outputs],
            self.initializers,
        )
        model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=_IR_VERSION,
            producer_name="mlsmear",
        )
        onnx.checker.check_model(model)
        return model.SerializeToString()


def _weights(layer: nn.Module) -> tuple[np.ndarray, np.ndarray]:
    linear = cast(nn.Linear, layer)
    return linear.weight.detach().float().cpu().numpy(), linear.bias.detach().float().cpu().numpy()


def _head(b: _Builder, net: SmearNet, k: int, h: str, s: str | None) -> str:
    """Head ``k``'s probabilities from trunk features ``h`` and scores ``s`` (``k`` columns)."""
    first, _, last = cast(nn.Sequential, net.heads[k])
    weight, bias = _weights(first)
    n_h = net.trunk_sizes[-1]
    z = b.node("Gemm", [h, b.constant(weight[:, :n_h], "w"), b.constant(bias, "b")], transB=1)
    if s is not None:
        z = b.node("Add", [z, b.node("MatMul", [s, b.constant(weight[:, n_h:].T, "w")])])
    return b.node("Softmax", [b.linear(b.silu(z), last)], axis=1)


def network_graphs(net: SmearNet) -> list[bytes]:
    """The serialised graphs of ``net`` (module docstring), one per quantity."""
    n_h, n_cat = net.trunk_sizes[-1], net.n_categories
    b = _Builder()
    h = "x"
    for layer in net.trunk:
        h = b.linear(h, layer) if hasattr(layer, "weight") else b.silu(h)
    p0 = _head(b, net, 0, h, None)
    graphs = [b.model([("x", net.n_inputs)], [(h, "h", n_h), (p0, "p", n_cat)])]
    for k in range(1, net.n_quantities):
        b = _Builder()
        scores = "s" if net.autoregressive else None
        p = _head(b, net, k, "h", scores)
        inputs = [("h", n_h), *([("s", k)] if scores else [])]
        graphs.append(b.model(inputs, [(p, "p", n_cat)]))
    return graphs
