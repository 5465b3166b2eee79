"""Network evaluation back ends of the engine: torch (CPU, CUDA) and onnxruntime (CPU, float32).

An :class:`Evaluator` gives the engine, batch by batch, each head's float32 probabilities: it
is :meth:`~Evaluator.start`-ed with the batch's input rows (the trunk runs once), asked for head
``k`` with the normal scores sampled so far (:meth:`~Evaluator.probs`), and told which rows are
still sampled (:meth:`~Evaluator.keep`). Both back ends compute the same network; outputs of one
back end are a pure function of the inputs, whatever the batch, chunk or thread count.

- :class:`TorchEvaluator`: the :class:`~mlsmear.network.SmearNet` on a device in a precision;
- :class:`OnnxEvaluator`: the network's ONNX graphs (:mod:`mlsmear.onnx_graph`) in onnxruntime
  sessions (:class:`OnnxSessions`) of one intra-op thread each, spinning off (a spinning pool
  takes the core the numba sampler, another worker or another process needs: 5× slower here);
  the engine runs batches side by side on :func:`torch.get_num_threads` threads (which
  :mod:`mlsmear.threads` sets). On this project's 2-core AVX2 CPU it ran the shipped 3×128
  network 1.4× faster than torch float32 (``smear()`` 1.25×) and 13× faster than torch bfloat16,
  which that CPU emulates (``benchmarks/backends.py``).

A model chooses by its card's ``backend`` (:data:`BACKENDS`): ``"onnxruntime"`` serves the CPU in
float32; CUDA and any other precision use torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import torch

from .network import SmearNet
from .onnx_graph import network_graphs

__all__ = ["BACKENDS", "Evaluator", "OnnxEvaluator", "OnnxSessions", "TorchEvaluator"]

#: Back ends a model card may name.
BACKENDS = ("torch", "onnxruntime")


class Evaluator(Protocol):
    """One network's evaluation, batch by batch (module docstring)."""

    def start(self, x: np.ndarray) -> None:
        """A new batch: input rows ``(n, n_inputs)`` float32."""

    def probs(self, k: int, scores: torch.Tensor) -> torch.Tensor:
        """Head ``k``'s probabilities ``(n, n_categories)`` float32 of the rows still sampled,
        given their normal scores ``(n, ≥ k)`` float32 (columns ``0 … k−1`` used)."""

    def keep(self, alive: torch.Tensor) -> None:
        """Only the rows ``alive`` (of those still sampled) are evaluated from now on."""


class TorchEvaluator:
    """The network in torch on ``device`` (its parameters' dtype is the evaluation precision;
    the softmax is float32)."""

    def __init__(self, net: SmearNet, device: torch.device) -> None:
        self.net, self.device = net, device
        self.dtype = next(net.parameters()).dtype
        self.h = torch.empty(0)

    def start(self, x: np.ndarray) -> None:
        self.h = self.net.features(torch.from_numpy(x).to(self.device, self.dtype))

    def probs(self, k: int, scores: torch.Tensor) -> torch.Tensor:
        logits = self.net.head_logits(k, self.h, scores)
        return torch.softmax(logits, dim=1, dtype=torch.float32)

    def keep(self, alive: torch.Tensor) -> None:
        self.h = self.h[alive]


class OnnxSessions:
    """A network's graphs (:func:`~mlsmear.onnx_graph.network_graphs`: serialised, or their
    files) as onnxruntime sessions on the CPU with ``threads`` intra-op threads (the engine's:
    one): built once per model, shared by every batch and thread (a session runs safely from
    several threads)."""

    def __init__(self, graphs: Sequence[bytes | str], threads: int, autoregressive: bool) -> None:
        import onnxruntime as ort  # only where a model evaluates with it

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.sessions = [
            ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
            for graph in graphs
        ]
        self.autoregressive = autoregressive

    @classmethod
    def of_network(cls, net: SmearNet, threads: int) -> OnnxSessions:
        """The sessions of ``net``'s float32 graphs."""
        return cls(network_graphs(net), threads, net.autoregressive)


class OnnxEvaluator:
    """One call's evaluation with :class:`OnnxSessions`."""

    def __init__(self, network: OnnxSessions) -> None:
        self.network = network
        self.h = np.empty((0, 0), dtype=np.float32)
        self.p0 = np.empty((0, 0), dtype=np.float32)

    def start(self, x: np.ndarray) -> None:
        self.h, self.p0 = self.network.sessions[0].run(None, {"x": np.ascontiguousarray(x)})

    def probs(self, k: int, scores: torch.Tensor) -> torch.Tensor:
        if k == 0:
            return torch.from_numpy(self.p0)
        feed = {"h": self.h}
        if self.network.autoregressive:
            feed["s"] = np.ascontiguousarray(scores[:, :k].numpy())
        return torch.from_numpy(self.network.sessions[k].run(None, feed)[0])

    def keep(self, alive: torch.Tensor) -> None:
        self.h = self.h[alive.numpy()]
