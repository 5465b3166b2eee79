"""Inference back ends side by side: the shipped jet network's bare forward, one run, one JSON.

The network is the full :class:`~mlsmear.network.SmearNet` of the jet model (trunk + every head,
softmax included), evaluated as the engine does, head by head: the autoregressive inputs of the
later heads are fixed normal scores (the same for every back end), the input rows are real truth
jets (the truth columns of the held-out pairs ``cache/pairs/<bundle>/mix-holdout/jet.parquet``,
else ~2000 freshly generated Pythia ttbar events) turned into the model's input matrix by
:meth:`~mlsmear.model.KindModel.features`. Back ends:

- ``torch_fp32``, ``torch_bf16``: the engine's torch evaluator
  (:class:`~mlsmear.evaluators.TorchEvaluator`); bf16 is what the cards said before;
- ``onnxruntime_fp32``: the engine's onnxruntime evaluator (the network's graphs of
  :mod:`mlsmear.onnx_graph` in :class:`~mlsmear.evaluators.OnnxSessions`), here with as many
  intra-op threads as the column says: what the cards say now (``backend: onnxruntime``; the
  engine runs one-thread sessions with its batches side by side instead);
- ``onnxruntime_int8_dynamic``: the same graphs through ``quantize_dynamic`` (per-channel int8
  weights; their Gemm nodes rewritten as MatMul + Add first: dynamic quantization only handles
  MatMul);
- ``onnxruntime_int8_static``: QDQ static quantization (``quantize_static``, per-channel int8
  weights, activations calibrated on 4096 real rows, the heads on their trunk features; softmax
  and SiLU stay float);
- ``openvino_fp32``, ``openvino_bf16`` (``INFERENCE_PRECISION_HINT``), ``openvino_int8`` (the
  static QDQ graphs, which OpenVINO runs in int8).

Per back end: ``rows_per_s`` by thread count (1 and 2: ``torch.set_num_threads``, onnxruntime
``intra_op_num_threads``, OpenVINO ``INFERENCE_NUM_THREADS``) and batch size (16384 and the
engine's default), best of ``repeat`` calls (``median_rows_per_s``: their median, a gauge of the
load), back ends and thread counts interleaved round by round so that they share the machine's
changing load; ``ratio_to_torch_bf16`` of the same run;
fidelity against torch fp32 on the same rows (at 1 thread): ``max_abs_dp`` (probabilities),
``mean_total_variation`` and ``category_disagreement`` (fraction of rows whose category differs
in any head, inverse CDF of every head with the same fixed uniforms; per head in
``…_by_head``);
``deterministic`` (two calls on the same rows give identical bits) and ``thread_invariant`` (1
and 2 threads give identical bits). A back end whose package is missing is skipped with a note
(``pip install "mlsmear[backends]"`` for OpenVINO).

Usage: ``python benchmarks/backends.py [--quick] [--model atlas-like] [--repeat N]``
(``--quick``: fewer repeats and fidelity rows, under a minute on 2 cores).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import platform
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

import mlsmear
from mlsmear.engine import DEFAULT_BATCH_SIZE
from mlsmear.evaluators import OnnxEvaluator, OnnxSessions
from mlsmear.flavour_neighbours import flavour_neighbours, uses_flavour_neighbours
from mlsmear.jet_context import CLAIM_FIELDS, CLAIMING_KINDS, uses_claims
from mlsmear.met_context import reference_truth, uses_objects
from mlsmear.onnx_graph import network_graphs

#: A forward: (input rows float32, normal scores float32) → probabilities of every head.
Forward = Callable[[np.ndarray, np.ndarray], list[np.ndarray]]

BATCH = 16384
THREADS = (1, 2)
REFERENCE, SHIPPED = "torch_fp32", "torch_bf16"
#: ONNX graph of the back ends whose graph is not named by their precision.
GRAPH = {"openvino_int8": "int8_static", "openvino_bf16": "fp32"}
ROOT = Path(__file__).resolve().parents[1]


# -- inputs ------------------------------------------------------------------------------------


def truth_rows(model: mlsmear.KindModel, bundle: str, n_events: int = 2000) -> tuple[
    np.ndarray, str
]:
    """The model's input matrix for real truth jets (the engine's inputs as training computes
    them: flavoured neighbours, the teacher's claims), and where they come from."""
    directory = ROOT / "cache" / "pairs" / bundle / "mix-holdout"
    fields = [f.name for f in model.inputs]
    if (directory / "meta.json").exists():  # written last: the pairs are complete
        from mlsmear.event_pairs import training_columns
        from mlsmear.pairs import read_pairs

        tables = {k: read_pairs(directory, k) for k in (model.kind, *CLAIMING_KINDS)
                  if (directory / f"{k}.parquet").exists()}
        truth, _, _ = training_columns(model.kind, tables, tables[model.kind],
                                       follow_objects=uses_claims(fields))
        source = str(directory.relative_to(ROOT))
    else:
        from mlsmear.generate.pythia import PROCESSES, PythiaGenerator
        from mlsmear.physics.truth import truth_objects

        record = PythiaGenerator(PROCESSES["ttbar"][0][0].settings, seed=1).generate(n_events)
        objects = truth_objects(record)[model.kind]
        columns = dict(objects.columns)
        if uses_flavour_neighbours(fields):  # computed by the engine from the event's jets
            columns.update(flavour_neighbours(objects.event_index, columns["eta"], columns["phi"],
                                              columns["hadronFlavour"]))
        for claim in set(CLAIM_FIELDS) & set(fields):  # no reconstructed e/γ/μ: unclaimed
            columns[claim] = np.zeros(len(objects))
        truth = {f: np.asarray(columns[f], dtype=np.float64) for f in fields}
        source = f"{n_events} Pythia ttbar events (seed 1), jets claimed by no e/γ/μ"
    if uses_objects(model.card):
        truth = reference_truth(truth)
    return np.ascontiguousarray(model.features(truth), dtype=np.float32), source


# -- the engine's evaluators ----------------------------------------------------------------


def torch_forward(model: mlsmear.KindModel, precision: str, threads: int) -> Forward:
    """The engine's torch evaluator of ``model`` in ``precision`` (torch's thread count is
    global: each call sets it)."""
    model = dataclasses.replace(model, backend="torch")

    def forward(x: np.ndarray, scores: np.ndarray) -> list[np.ndarray]:
        torch.set_num_threads(threads)
        evaluator = model.evaluator("cpu", precision)
        s = torch.from_numpy(scores)
        with torch.inference_mode():
            evaluator.start(x)
            return [evaluator.probs(k, s).numpy() for k in range(model.net.n_quantities)]

    return forward


def graphs_forward(run_graphs: list[Callable[[dict[str, np.ndarray]], list[np.ndarray]]],
                   autoregressive: bool) -> Forward:
    """The engine's head-by-head evaluation over the network's graphs, each run by
    ``run_graphs[k]`` (feed → outputs)."""

    def forward(x: np.ndarray, scores: np.ndarray) -> list[np.ndarray]:
        h, p0 = run_graphs[0]({"x": x})
        probs = [p0]
        for k in range(1, len(run_graphs)):
            feed = {"h": h, **({"s": np.ascontiguousarray(scores[:, :k])} if autoregressive
                               else {})}
            probs.append(run_graphs[k](feed)[0])
        return probs

    return forward


def write_graphs(model: mlsmear.KindModel, workdir: Path) -> list[Path]:
    """The network's float32 graphs (:func:`mlsmear.onnx_graph.network_graphs`) as files."""
    paths = []
    for k, graph in enumerate(network_graphs(model.net)):
        paths.append(workdir / f"fp32_{k}.onnx")
        paths[-1].write_bytes(graph)
    return paths


# -- onnx graph helpers ----------------------------------------------------------------------


def gemm_to_matmul(source: Path, target: Path) -> Path:
    """Rewrite every ``Gemm(A, B, C)`` (alpha = beta = 1, no transA) as ``MatMul`` + ``Add``
    with B transposed in place: numerically the same graph, but one ``quantize_dynamic`` can
    quantize (its integer-op registry has MatMul, not Gemm)."""
    import onnx
    from onnx import helper, numpy_helper

    graph_model = onnx.load(str(source))
    graph = graph_model.graph
    inits = {i.name: i for i in graph.initializer}
    nodes = []
    for node in graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type != "Gemm" or attrs.get("transA", 0) or attrs.get("alpha", 1.0) != 1.0 or (
            attrs.get("beta", 1.0) != 1.0
        ) or node.input[1] not in inits:
            nodes.append(node)
            continue
        weight = numpy_helper.to_array(inits[node.input[1]])
        if attrs.get("transB", 0):
            weight = weight.T
        name = f"{node.input[1]}_t"
        graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(weight), name))
        product = f"{node.output[0]}_matmul"
        nodes.append(helper.make_node("MatMul", [node.input[0], name], [product],
                                      name=f"{node.name}_matmul"))
        if len(node.input) > 2 and node.input[2]:
            nodes.append(helper.make_node("Add", [product, node.input[2]], [node.output[0]],
                                          name=f"{node.name}_add"))
        else:
            nodes[-1].output[0] = node.output[0]
    del graph.node[:]
    graph.node.extend(nodes)
    used = {i for node in graph.node for i in node.input}
    kept = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    onnx.checker.check_model(graph_model)
    onnx.save(graph_model, str(target))
    return target


def quantize_int8_dynamic(fp32: Path, target: Path) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    matmul = gemm_to_matmul(fp32, target.with_suffix(".matmul.onnx"))
    quantize_dynamic(str(matmul), str(target), weight_type=QuantType.QInt8, per_channel=True)
    return target


def quantize_int8_static(fp32: Path, target: Path, feeds: list[dict[str, np.ndarray]]) -> Path:
    """QDQ int8 (per-channel weights, activations calibrated on ``feeds``) of the Gemm layers
    only."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(feeds)

        def get_next(self) -> dict | None:
            return next(self.batches, None)

    quantize_static(
        str(fp32), str(target), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
        weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8,
        op_types_to_quantize=["Gemm"],
    )
    return target


def calibration_feeds(fp32: list[Path], x: np.ndarray, scores: np.ndarray) -> list[
    list[dict[str, np.ndarray]]
]:
    """Per graph, its calibration inputs in batches of 512: the rows for the trunk, the trunk's
    float32 features of those rows (and the scores) for the heads."""
    import onnxruntime as ort

    trunk = ort.InferenceSession(str(fp32[0]), providers=["CPUExecutionProvider"])
    h = trunk.run(["h"], {"x": x})[0]
    batches = range(0, len(x), 512)
    feeds = [[{"x": x[i : i + 512]} for i in batches]]
    for k in range(1, len(fp32)):
        feeds.append([{"h": h[i : i + 512], "s": np.ascontiguousarray(scores[i : i + 512, :k])}
                      for i in batches])
    return feeds


def onnxruntime_forward(paths: list[Path], threads: int, autoregressive: bool) -> Forward:
    """The engine's onnxruntime sessions and evaluator on graphs of the network (its float32
    ones, or quantised ones), ``threads`` intra-op threads."""
    sessions = OnnxSessions([str(p) for p in paths], threads, autoregressive)

    def forward(x: np.ndarray, scores: np.ndarray) -> list[np.ndarray]:
        evaluator, s = OnnxEvaluator(sessions), torch.from_numpy(scores)
        evaluator.start(x)
        return [evaluator.probs(k, s).numpy() for k in range(len(paths))]

    return forward


def openvino_forward(paths: list[Path], threads: int, precision: str,
                     autoregressive: bool) -> Forward:
    import openvino as ov

    core = ov.Core()
    runs, layers = [], set()
    for path in paths:
        compiled = core.compile_model(core.read_model(str(path)), "CPU", {
            "INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": precision,
            "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1,
        })
        got = str(compiled.get_property("INFERENCE_PRECISION_HINT"))
        if {"f32": "float32", "bf16": "bfloat16"}[precision] not in got:
            raise RuntimeError(f"OpenVINO compiled in {got}, not the {precision} asked for")
        layers |= {  # what the compiled graph really runs its matrix products in
            op.get_rt_info()["runtimePrecision"].astype(str)
            for op in compiled.get_runtime_model().get_ops()
            if op.get_rt_info()["layerType"].astype(str) == "FullyConnected"
        }
        request, outputs = compiled.create_infer_request(), compiled.outputs

        def run_graph(feed: dict, request=request, outputs=outputs) -> list[np.ndarray]:
            result = request.infer(feed, share_outputs=False)
            return [result[o] for o in outputs]

        runs.append(run_graph)
    forward = graphs_forward(runs, autoregressive)
    forward.runtime = f"FullyConnected in {', '.join(sorted(layers))}"  # type: ignore[attr-defined]
    return forward


# -- the back ends -------------------------------------------------------------------------------


def versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {"torch": torch.__version__}
    for name in ("onnxruntime", "onnx", "openvino"):
        try:
            found[name] = __import__(name).__version__
        except ImportError:
            found[name] = None
    return found


def build_backends(
    model: mlsmear.KindModel, workdir: Path, calib_x: np.ndarray, calib_s: np.ndarray
) -> tuple[dict[str, Callable[[int], Forward]], dict[str, str], dict[str, str]]:
    """Per back end a factory ``threads → forward``; the skipped back ends with why; versions."""
    found = versions()
    factories: dict[str, Callable[[int], Forward]] = {
        "torch_fp32": lambda t: torch_forward(model, "float32", t),
        "torch_bf16": lambda t: torch_forward(model, "bfloat16", t),
    }
    skipped: dict[str, str] = {}
    graphs = {"fp32": write_graphs(model, workdir)}
    autoregressive = model.net.autoregressive
    # the engine's sessions and evaluator with t intra-op threads: the network's rate at t
    # threads (the engine itself runs one-thread sessions with its batches side by side)
    factories["onnxruntime_fp32"] = lambda t: onnxruntime_forward(
        graphs["fp32"], t, autoregressive)
    version = {name: f"{name.split('_')[0]} {found[name.split('_')[0]]}" for name in factories}
    needs = {
        "onnxruntime_int8_dynamic": ("onnxruntime", "onnx"),
        "onnxruntime_int8_static": ("onnxruntime", "onnx"), "openvino_fp32": ("openvino",),
        "openvino_bf16": ("openvino",), "openvino_int8": ("openvino", "onnxruntime", "onnx"),
    }
    for name, packages in needs.items():
        missing = [p for p in packages if found[p] is None]
        if missing:
            skipped[name] = (f"not installed: {', '.join(missing)} "
                             '(pip install "mlsmear[backends]")')
            continue
        try:
            logging.getLogger().setLevel(logging.ERROR)  # quantize_* advise pre-processing
            if name == "onnxruntime_int8_dynamic" and "int8_dynamic" not in graphs:
                graphs["int8_dynamic"] = [quantize_int8_dynamic(
                    p, p.with_name(p.name.replace("fp32", "int8_dynamic"))) for p in graphs["fp32"]]
            if name in ("onnxruntime_int8_static", "openvino_int8") and "int8_static" not in graphs:
                feeds = calibration_feeds(graphs["fp32"], calib_x, calib_s)
                graphs["int8_static"] = [quantize_int8_static(
                    p, p.with_name(p.name.replace("fp32", "int8_static")), f)
                    for p, f in zip(graphs["fp32"], feeds, strict=True)]
        except Exception as err:  # a failed quantisation skips that back end
            skipped[name] = f"quantisation failed: {type(err).__name__}: {err}"
            continue
        engine, precision = name.split("_", 1)
        paths = graphs[GRAPH.get(name, precision)]
        if engine == "onnxruntime":
            factories[name] = lambda t, g=paths: onnxruntime_forward(g, t, autoregressive)
        else:
            hint = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}[precision]
            factories[name] = lambda t, g=paths, h=hint: openvino_forward(
                g, t, h, autoregressive)
        version[name] = f"{engine} {found[engine]}"
    return factories, skipped, version


# -- measurement ---------------------------------------------------------------------------------


def categories(probs: list[np.ndarray], uniforms: np.ndarray) -> np.ndarray:
    """Inverse CDF of every head at the given uniforms ``(n, n_heads)``: category per row."""
    out = np.empty(uniforms.shape, dtype=np.int16)
    for k, p in enumerate(probs):
        cdf = np.cumsum(p, axis=1, dtype=np.float64)
        cdf /= cdf[:, -1:]
        out[:, k] = np.minimum((cdf < uniforms[:, k : k + 1]).sum(axis=1), p.shape[1] - 1)
    return out


def same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))


def timings(
    forwards: dict[tuple[str, int], Forward], x: np.ndarray, s: np.ndarray, batches: list[int],
    repeat: int,
) -> tuple[dict[tuple[str, int], dict[str, int]], dict[tuple[str, int], dict[str, int]]]:
    """Rows/s, best and median of ``repeat`` calls, per (back end, threads) and batch size;
    every round times each of them once, in an order rotated round by round, so that all share
    the machine's changing load."""
    times: dict[tuple[str, int], dict[int, list[float]]] = {
        key: {b: [] for b in batches} for key in forwards
    }
    inputs = {b: (np.ascontiguousarray(x[:b]), np.ascontiguousarray(s[:b])) for b in batches}
    keys = list(forwards)
    for key in keys:  # warm-up: allocators, one-time graph compilation
        for b in batches:
            forwards[key](*inputs[b])
    for r in range(repeat):
        for key in keys[r % len(keys):] + keys[: r % len(keys)]:
            for b in batches:
                start = time.perf_counter()
                forwards[key](*inputs[b])
                times[key][b].append(time.perf_counter() - start)

    def rate(statistic: Callable) -> dict[tuple[str, int], dict[str, int]]:
        return {key: {str(b): round(b / statistic(t)) for b, t in by.items()}
                for key, by in times.items()}

    return rate(min), rate(np.median)


def fidelity(
    forwards: dict[str, Forward], other_threads: dict[str, Forward], x: np.ndarray,
    s: np.ndarray, u: np.ndarray, batch: int,
) -> dict[str, dict]:
    """Against torch fp32 on the same rows, batch by batch: max |Δp| (all heads, per head), mean
    total variation (½ Σ|Δp| per row and head: the least disagreement any coupling allows),
    category disagreement (any head, per head), determinism (two calls) and thread invariance
    (first batch)."""
    n, n_q = u.shape
    dp = {name: np.zeros(n_q) for name in forwards}
    tv = dict.fromkeys(forwards, 0.0)
    differ = {name: np.zeros(n_q, dtype=np.int64) for name in forwards}
    differ_any = dict.fromkeys(forwards, 0)
    deterministic = dict.fromkeys(forwards, True)
    invariant: dict[str, bool] = {}
    for start in range(0, n, batch):
        rows = slice(start, min(start + batch, n))
        xb, sb, ub = x[rows], s[rows], u[rows]
        reference = forwards[REFERENCE](xb, sb)
        ref_cat = categories(reference, ub)
        for name, forward in forwards.items():
            first = reference if name == REFERENCE else forward(xb, sb)
            second = forward(xb, sb)
            deterministic[name] &= same(first, second)
            if start == 0:
                invariant[name] = same(first, other_threads[name](xb, sb))
            for k, (p, q) in enumerate(zip(first, reference, strict=True)):
                delta = np.abs(p - q)
                dp[name][k] = max(dp[name][k], float(delta.max()))
                tv[name] += 0.5 * float(delta.sum(dtype=np.float64))
            wrong = categories(first, ub) != ref_cat
            differ[name] += wrong.sum(axis=0)
            differ_any[name] += int(wrong.any(axis=1).sum())
    return {
        name: {
            "max_abs_dp": float(f"{dp[name].max():.3g}"),
            "max_abs_dp_by_head": [float(f"{d:.3g}") for d in dp[name]],
            "mean_total_variation": float(f"{tv[name] / (n * n_q):.3g}"),
            "category_disagreement": float(f"{differ_any[name] / n:.3g}"),
            "category_disagreement_by_head": [float(f"{d / n:.3g}") for d in differ[name]],
            "deterministic": deterministic[name],
            "thread_invariant": invariant[name],
        }
        for name in forwards
    }


def run(
    model: mlsmear.KindModel, bundle: str, *, repeat: int, n_fidelity: int, batches: list[int],
) -> dict:
    torch_threads = torch.get_num_threads()
    x_all, source = truth_rows(model, bundle)
    n_q = model.net.n_quantities
    rng = np.random.default_rng(7)
    need = max(max(batches), n_fidelity)
    rows = np.resize(np.arange(len(x_all)), need)  # the real rows, repeated if too few
    x = np.ascontiguousarray(x_all[rows])
    scores = rng.standard_normal((need, n_q)).astype(np.float32).clip(-4.75, 4.75)
    uniforms = rng.random((n_fidelity, n_q))
    with tempfile.TemporaryDirectory() as tmp:
        factories, skipped, version = build_backends(
            model, Path(tmp), x_all[:4096], scores[:4096])
        forwards: dict[tuple[str, int], Forward] = {}
        for name, make in factories.items():
            for threads in THREADS:
                try:
                    forwards[name, threads] = make(threads)
                except Exception as err:  # e.g. no bf16 on this CPU
                    skipped[name] = f"{type(err).__name__}: {err}"
        forwards = {key: f for key, f in forwards.items() if key[0] not in skipped}
        rates, medians = timings(forwards, x, scores, batches, repeat)
        names = [n for n in factories if n not in skipped]
        fid_threads = min(THREADS)  # robust on a loaded machine; thread_invariant checks 2
        quality = fidelity(
            {n: forwards[n, fid_threads] for n in names},
            {n: forwards[n, max(THREADS)] for n in names},
            x[:n_fidelity], scores[:n_fidelity], uniforms, BATCH,
        )
    torch.set_num_threads(torch_threads)
    table = {}
    for name in names:
        by_threads = {
            f"{t}_thread{'s' if t > 1 else ''}": rates[name, t] for t in THREADS
        }
        median = {key: medians[name, t] for t, key in zip(THREADS, by_threads, strict=True)}
        ratio = {
            key: {b: round(v / rates[SHIPPED, t][b], 3) for b, v in rates[name, t].items()}
            for t, key in zip(THREADS, by_threads, strict=True)
        } if SHIPPED in names else None
        runtime = getattr(forwards[name, THREADS[0]], "runtime", None)
        table[name] = {
            "rows_per_s": by_threads, "median_rows_per_s": median, "ratio_to_torch_bf16": ratio,
            **quality[name],
            "version": version[name], **({"runtime": runtime} if runtime else {}),
        }
    for name, why in skipped.items():
        table[name] = {"skipped": why}
    equal = [n for n in names if quality[n]["category_disagreement"]
             <= quality[SHIPPED]["category_disagreement"]] if SHIPPED in names else names
    fastest = {
        key: max(equal, key=lambda n, key=key: table[n]["rows_per_s"][key][str(BATCH)])
        for key in next(iter(table.values()))["rows_per_s"]
    } if names else {}
    return {
        "model": bundle,
        "network": model.net.config(),
        "card_precision": model.precision,
        "card_backend": model.backend,
        "rows": source,
        "n_fidelity_rows": n_fidelity,
        "fidelity_threads": fid_threads,
        "threads": list(THREADS),
        "batch_sizes": batches,
        "repeat": repeat,
        "rows_per_s_keys": "threads → batch size → rows/s (best of repeat calls)",
        "cpu": platform.processor() or platform.machine(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "versions": versions(),
        "fastest_at_shipped_fidelity": {
            **fastest, "criterion": f"rows/s at batch {BATCH} among the back ends whose "
            "category disagreement with torch fp32 is at most torch bf16's",
        },
        "backends": table,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="atlas-like", help="bundle name (its jet model)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats and rows (< 1 min)")
    parser.add_argument("--repeat", type=int, help="timed calls per back end and batch size")
    parser.add_argument("--fidelity-rows", type=int, help="rows of the fidelity comparison")
    args = parser.parse_args()
    warnings.simplefilter("ignore", mlsmear.OutOfRangeWarning)
    model = mlsmear.load(args.model)["jet"]
    batches = sorted({BATCH, DEFAULT_BATCH_SIZE}, reverse=True)
    result = run(
        model, args.model, repeat=args.repeat or (3 if args.quick else 10),
        n_fidelity=args.fidelity_rows or (BATCH if args.quick else 6 * BATCH),
        batches=batches,
    )
    print(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
