"""Batched evaluation: truth feature rows → sampled residuals, on CPU or CUDA.

Rows are processed in fixed-size batches, so memory is bounded by the batches in flight, not
the input. Per batch: the trunk once, then each head in order, by the model's evaluator (torch,
or onnxruntime where the card says so: :mod:`mlsmear.evaluators`); each head's probabilities are
sampled at once by a sampler strategy (:class:`~mlsmear.sampling.NumbaSampler` on CPU,
:class:`~mlsmear.sampling.TorchSampler` on CUDA) and the sampled CDF position, as a normal score
computed once, is fed to the later heads.

Threads: torch spreads each operation over :func:`torch.get_num_threads` threads; onnxruntime
runs one thread per session and the batches go side by side instead, one per thread (a batch's
rows depend on nothing else, so the output does not depend on the thread count). On two cores
that took the shipped jet model from 1.19× to 1.65× its one-thread rate: a 3×128 network's
operations on 8192 rows are too short to share well.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch

from . import residuals as residual_kinds
from .evaluators import Evaluator
from .flavour_neighbours import (
    FLAVOUR_NEIGHBOUR_FIELDS,
    flavour_neighbours,
    uses_flavour_neighbours,
)
from .met_context import reference_truth, uses_objects
from .model import KindModel
from .network import SmearNet
from .sampling import LOST, SAMPLERS, Sampler
from .sibling_context import sibling_ranks, sibling_sums, uses_siblings

__all__ = ["sample_residuals", "sample_reco", "resolve_device", "DEFAULT_BATCH_SIZE"]

DEFAULT_BATCH_SIZE = 8192
#: Fewest rows worth a thread of their own (the engine's batches side by side).
MIN_THREAD_ROWS = 1024


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; ``"cuda"`` without a GPU → ``ValueError``."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' requested but torch sees no CUDA device")
    return device


def sample_residuals(
    model: KindModel,
    x: np.ndarray,
    keys: np.ndarray,
    index: np.ndarray,
    *,
    device: str | torch.device = "cpu",
    batch_size: int = DEFAULT_BATCH_SIZE,
    sampler: str | None = None,
    precision: str | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample every quantity's residual for ``n`` objects.

    Arguments:
        model: the kind's model.
        x: input rows ``(n, n_inputs)`` float32 (see :meth:`KindModel.features`).
        keys: event key per object (``uint64``); index: object index in its event (``int64``).
        device: torch device for the network.
        batch_size: most rows per evaluation batch (the rows are split into equal batches, at
            least one per thread where batches run side by side).
        sampler: ``"numba"`` (CPU default) or ``"torch"`` (device default on CUDA), see
            :data:`~mlsmear.sampling.SAMPLERS`.
        precision: evaluation precision overriding the model card's (None: the card's).

    Returns:
        ``(reconstructed, residuals, is_zero)``: bool ``(n,)``, float64 ``(n, n_quantities)``
        (the rows of lost objects hold NaN) and bool ``(n, n_quantities)``: the reco value was
        drawn as exactly 0 (the model's ``zero_quantities``).
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer) or (
        batch_size < 1
    ):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    device = resolve_device(device)
    name = sampler or ("numba" if device.type == "cpu" else "torch")
    if name not in SAMPLERS:
        raise ValueError(f"sampler must be one of {list(SAMPLERS)}, got {sampler!r}")
    n, n_q = x.shape[0], model.net.n_quantities
    residuals = np.empty((n, n_q))
    is_zero = np.zeros((n, n_q), dtype=bool)
    index = np.ascontiguousarray(index, dtype=np.int64)
    threads = torch.get_num_threads() if model.evaluates_per_thread(device, precision) else 1
    # equal batches of at most batch_size rows, at least one per thread (of MIN_THREAD_ROWS+)
    n_batches = max(-(-n // batch_size), min(threads, n // MIN_THREAD_ROWS))
    size = -(-n // n_batches) if n else batch_size
    starts = range(0, n, size)
    workers = min(len(starts), threads)

    def run(start: int) -> None:
        stop = min(start + size, n)
        strategy = SAMPLERS[name](model.binnings, device, parallel=workers <= 1)
        _sample_batch(model, model.evaluator(device, precision), strategy,
                      x[start:stop], keys[start:stop], index[start:stop],
                      residuals[start:stop], is_zero[start:stop])

    with torch.inference_mode():
        if workers <= 1:  # one batch at a time (none for no rows)
            for start in starts:
                run(start)
        else:  # batches side by side, one thread each (the sessions and kernels release the GIL)
            with ThreadPoolExecutor(workers) as pool:
                for done in [pool.submit(run, start) for start in starts]:
                    done.result()
    return ~np.isnan(residuals[:, 0]), residuals, is_zero


def _sample_batch(
    model: KindModel, evaluator: Evaluator, strategy: Sampler, x: np.ndarray, keys: np.ndarray,
    index: np.ndarray, residuals: np.ndarray, is_zero: np.ndarray,
) -> None:
    """One batch of :func:`sample_residuals`: its rows of ``residuals`` and ``is_zero`` filled."""
    n, n_q = x.shape[0], model.net.n_quantities
    device = strategy.device
    allow_lost = model.spec.has_efficiency
    zero_heads = [k for k, q in enumerate(model.quantities) if q in model.zero_quantities]
    evaluator.start(np.ascontiguousarray(x, dtype=np.float32))
    positions = torch.empty((n, n_q), dtype=torch.float64, device=device)
    strategy.start(keys, index)
    # the rows still sampled (objects lost by head 0 skip the later heads): the normal scores of
    # their quantities sampled so far (their trunk features: the evaluator's)
    alive: slice | torch.Tensor = slice(None)
    sb = torch.empty((n, n_q), dtype=torch.float32, device=device)
    for k in range(n_q):
        probs = evaluator.probs(k, sb)
        lost_ok = (allow_lost and k == 0) or k in zero_heads
        drawn = strategy.draw(probs, k, lost_ok)
        positions[alive, k] = drawn
        if k + 1 < n_q:
            sb[:, k] = SmearNet.normal_scores(drawn.float())
        if k == 0 and allow_lost:  # exact: a lost object's later draws are never used
            kept = positions[:, 0] != LOST
            if not bool(kept.all()):
                positions[~kept, 1:] = 0.5
                alive = torch.nonzero(kept).flatten()
                sb = sb[alive]
                evaluator.keep(alive)
                strategy.keep(alive)
    lost = positions[:, 0] == LOST
    zero = {k: (positions[:, k] == LOST) & ~lost for k in zero_heads}
    positions[positions == LOST] = 0.5
    for k in range(n_q):
        residuals[:, k] = strategy.values(k, positions[:, k])
    residuals[lost.cpu().numpy()] = np.nan
    for k, rows in zero.items():
        is_zero[:, k] = rows.cpu().numpy()


def sample_reco(
    model: KindModel,
    truth: Mapping[str, np.ndarray],
    keys: np.ndarray,
    index: np.ndarray,
    *,
    device: str | torch.device = "cpu",
    batch_size: int = DEFAULT_BATCH_SIZE,
    precision: str | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Reco values of flat truth objects (no thresholds, no ordering): the columnar core.

    Arguments:
        model: the kind's model.
        truth: flat truth columns by field (``pt`` GeV, ``eta``, ``phi``, ``mass``, extras).
        keys: event key of each object (``uint64``, :func:`~mlsmear.counter_random.event_keys`).
        index: index of each object in its event.
        device, batch_size, precision: as for :func:`mlsmear.smear`.

    A jet model that reads its flavoured neighbours (:mod:`mlsmear.flavour_neighbours`) gets
    them computed here from the jets of each event (objects of an event share their key).
    A model with sibling context (:mod:`mlsmear.sibling_context`) samples the objects of each
    event rank by rank in truth pT, each rank reading the outcome of the ranks before (objects
    of an event share their key).

    Returns:
        ``(reconstructed, reco)``: bool per object and reco columns by quantity (NaN if lost).
    """
    if uses_objects(model.card):
        truth = reference_truth(truth)
    names = [f.name for f in model.inputs]
    if uses_flavour_neighbours(names) and not set(FLAVOUR_NEIGHBOUR_FIELDS) <= set(truth):
        truth = {**truth, **flavour_neighbours(keys, truth["eta"], truth["phi"],
                                               truth["hadronFlavour"])}
    options = dict(device=device, batch_size=batch_size, precision=precision)
    if not uses_siblings(names):
        return _reco(model, truth, keys, index, **options)
    group = np.unique(keys, return_inverse=True)[1].ravel()
    pt, eta, phi = (np.asarray(truth[f], dtype=np.float64) for f in ("pt", "eta", "phi"))
    rank = sibling_ranks(group, pt)
    reconstructed, reco = _all_lost(model, pt.size)
    for r in range(int(rank.max(initial=-1)) + 1):
        rows = np.flatnonzero(rank == r)
        context = sibling_sums(group, pt, eta, phi, rank, reconstructed, rows)
        rows_truth = {**_rows(truth, rows), **context}
        _fill(reconstructed, reco, rows, _reco(model, rows_truth, keys[rows], index[rows],
                                               **options))
    return reconstructed, reco


def _all_lost(model: KindModel, n: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``(reconstructed, reco)`` of ``n`` lost objects, to be filled by :func:`_fill`."""
    return np.zeros(n, dtype=bool), {q: np.full(n, np.nan) for q in model.quantities}


def _rows(truth: Mapping[str, np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
    return {f: np.asarray(v)[rows] for f, v in truth.items()}


def _fill(
    reconstructed: np.ndarray, reco: dict[str, np.ndarray], rows: np.ndarray,
    sampled: tuple[np.ndarray, dict[str, np.ndarray]],
) -> None:
    """Write the ``(reconstructed, reco)`` sampled for ``rows`` into the full arrays."""
    reconstructed[rows] = sampled[0]
    for q, v in sampled[1].items():
        reco[q][rows] = v


def _reco(
    model: KindModel, truth: Mapping[str, np.ndarray], keys: np.ndarray, index: np.ndarray,
    **options: Any,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """:func:`sample_reco` of objects whose inputs are all in ``truth``: those outside the
    model's truth acceptance (:meth:`KindModel.in_acceptance`) are lost, not sampled (each
    object's uniforms come from its own key and index, so the others' draws do not change)."""
    inside = model.in_acceptance(truth["eta"]) if "eta" in truth else None
    if inside is not None and not inside.all():
        rows = np.flatnonzero(inside)
        reconstructed, reco = _all_lost(model, inside.size)
        _fill(reconstructed, reco, rows, _sampled_reco(model, _rows(truth, rows), keys[rows],
                                                       index[rows], **options))
        return reconstructed, reco
    return _sampled_reco(model, truth, keys, index, **options)


def _sampled_reco(
    model: KindModel, truth: Mapping[str, np.ndarray], keys: np.ndarray, index: np.ndarray,
    **options: Any,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """:func:`_reco` of objects that are all sampled."""
    reconstructed, r, is_zero = sample_residuals(
        model, model.features(truth), keys, index, **options
    )
    reco = {}
    for k, (q, kind_r) in enumerate(zip(model.quantities, model.residual_kinds, strict=True)):
        reco[q] = residual_kinds.apply(kind_r, truth.get(q), r[:, k], truth["pt"])
        reco[q][is_zero[:, k]] = 0.0
    return reconstructed, reco
