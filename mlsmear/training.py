"""Training a :class:`~mlsmear.model.KindModel` from truth↔reco pairs (flat numpy columns).

The pT head learns category 0 ("not reconstructed") from unmatched truth objects and the residual
bins from matched ones; later heads learn residual bins of matched objects only, with the true CDF
positions of the earlier quantities fed forward (teacher forcing). A quantity whose reco value can
be exactly 0 (the mass of a one-tower jet) learns those rows as its category 0, so the learnt
detector draws massless jets as a point mass instead of smearing them to small masses. Adam with a
cosine learning-rate schedule, the efficiency weighted in the loss, a validation split with early
stopping, fixed seeds. Early stopping restores the best epoch and cools it down (learning rate
annealed linearly to 0 over a few epochs): the epoch it picks mid-schedule was taken at a high
learning rate.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from . import residuals
from .binning import ResidualBinning
from .kinds import TAG_RESIDUAL, ZERO_TOLERANCE, kind_spec
from .model import KindModel
from .network import SmearNet
from .transforms import InputFeature, input_matrix

__all__ = ["MIN_ZERO_ROWS", "TrainConfig", "fit_model", "training_targets", "zero_rows"]

#: A quantity gets a "reco value 0" category only with at least this many such training rows.
MIN_ZERO_ROWS = 100


@dataclass(frozen=True)
class TrainConfig:
    """Training settings (all recorded in the model card).

    Arguments:
        trunk, head: network widths (see :class:`~mlsmear.network.SmearNet`).
        autoregressive: feed earlier residuals to later heads (off = the paper's independent heads).
        binning: ``"quantile"`` (equal population + knots + tails) or ``"clipped"`` (the paper's).
        zero_category: give quantities that may be exactly 0 (jet mass) a "reco value 0"
            category when the data hold such values (off = the paper's).
        truth_acceptance: learn the teacher's truth acceptance in |η| as an edge, not as
            network output (see :func:`fit_model`; off = the paper's).
        epochs, batch_size, learning_rate: optimiser settings (cosine schedule to 0).
        efficiency_weight: weight of the efficiency ("not reconstructed" vs the rest) in the
            loss of kinds with an efficiency (1 = plain 101-way cross-entropy, the paper's). The
            efficiency is a binary term among 4 × ln 101 nats of residual bins; at weight 1 the
            toy closure's efficiency came out up to 0.014 (4σ) off at the best epoch while the
            residual heads already overfit, at 10 within 1.3σ (docs/design.md, Training).
        validation_fraction, patience: early stopping on the validation (weighted) loss.
        cooldown: epochs of linear learning-rate decay to 0 from the best epoch after early
            stopping (0 = keep the best epoch as it was); the best of all epochs is kept.
        seed: seeds the split, the initialisation and the batch order.
        progress: show a progress bar.
    """

    trunk: tuple[int, ...] = (128, 128, 128)
    head: int = 64
    autoregressive: bool = True
    binning: str = "quantile"
    zero_category: bool = True
    truth_acceptance: bool = True
    epochs: int = 20
    batch_size: int = 4096
    learning_rate: float = 2e-3
    efficiency_weight: float = 10.0
    validation_fraction: float = 0.1
    patience: int = 4
    cooldown: int = 2
    seed: int = 0
    progress: bool = True


def zero_rows(
    kind: str, reco: Mapping[str, np.ndarray], matched: np.ndarray, tags: Sequence[str] = ()
) -> dict[str, np.ndarray]:
    """Matched rows whose reco value is 0 (within :data:`~mlsmear.kinds.ZERO_TOLERANCE` for the
    kind's quantities that may be zero, exactly 0 for the ``tags``), for the quantities with at
    least :data:`MIN_ZERO_ROWS` such rows."""
    out = {}
    tolerance = dict.fromkeys(kind_spec(kind).may_be_zero, ZERO_TOLERANCE)
    tolerance |= dict.fromkeys(tags, 0.0)
    for q, tol in tolerance.items():
        with np.errstate(invalid="ignore"):
            zero = matched & (np.abs(reco[q]) <= tol)
        if zero.sum() >= MIN_ZERO_ROWS:
            out[q] = zero
    return out


def _binned_residuals(
    kind: str,
    truth: Mapping[str, np.ndarray],
    reco: Mapping[str, np.ndarray],
    matched: np.ndarray,
    zero: Mapping[str, np.ndarray],
    tags: Sequence[str] = (),
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Per quantity (the kind's kinematics, then ``tags``): the rows that get a residual bin
    (matched, reco value not exactly 0) and their residuals."""
    spec = kind_spec(kind)
    kinds = (*spec.residuals, *(TAG_RESIDUAL for _ in tags))
    for q, kind_r in zip((*spec.quantities, *tags), kinds, strict=True):
        rows = matched & ~zero.get(q, np.zeros_like(matched))
        base = truth[q][rows] if q in truth else None
        yield rows, residuals.residual(kind_r, base, reco[q][rows], truth["pt"][rows])


def training_targets(
    kind: str,
    truth: Mapping[str, np.ndarray],
    reco: Mapping[str, np.ndarray],
    matched: np.ndarray,
    binnings: Sequence[ResidualBinning],
    zero: Mapping[str, np.ndarray] | None = None,
    tags: Sequence[str] = (),
) -> tuple[np.ndarray, np.ndarray]:
    """Target categories ``(n, n_q)`` and CDF positions ``(n, n_q)`` per object. Category 0
    is "lost" for the first quantity and "reco value 0" for the quantities in ``zero``
    (quantity → rows, see :func:`zero_rows`); those rows get position 0."""
    n, n_q = matched.size, len(binnings)
    categories = np.zeros((n, n_q), dtype=np.int64)
    positions = np.full((n, n_q), 0.5)
    binned = _binned_residuals(kind, truth, reco, matched, zero or {}, tags)
    for k, (rows, r) in enumerate(binned):
        positions[rows, k] = binnings[k].positions(r)
        categories[rows, k] = binnings[k].categories(r)
        positions[matched & ~rows, k] = 0.0
    return categories, positions


def _fit_binnings(
    kind, truth, reco, matched, zero: Mapping[str, np.ndarray], config: TrainConfig,
    tags: Sequence[str],
) -> list[ResidualBinning]:
    return [
        ResidualBinning.fit(r, scheme=config.binning)
        for _, r in _binned_residuals(kind, truth, reco, matched, zero, tags)
    ]


def _inside_acceptance(
    truth: Mapping[str, np.ndarray], reco: Mapping[str, np.ndarray], matched: np.ndarray
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray, float, int]:
    """The truth acceptance (the largest truth |η| the teacher reconstructed) and the rows
    inside it: ``(truth, reco, matched, edge, rows dropped)``. The rows beyond are all lost;
    the learnt detector loses them without sampling (:meth:`KindModel.in_acceptance`), so the
    network need not learn the teacher's sharp edge, which it would smear over a few
    hundredths in η (Delphes' muons at truth |η| 2.35-2.4: 0.84 reconstructed, learnt 0.60)."""
    abs_eta = np.abs(np.asarray(truth["eta"], dtype=np.float64))
    edge = float(abs_eta[matched].max())
    inside = abs_eta <= edge
    if inside.all():
        return dict(truth), dict(reco), matched, edge, 0
    return ({f: np.asarray(v)[inside] for f, v in truth.items()},
            {q: np.asarray(v)[inside] for q, v in reco.items()}, matched[inside], edge,
            int((~inside).sum()))


def _loss(net: SmearNet, x, categories, positions, matched, efficiency_weight: float = 1.0
          ) -> torch.Tensor:
    """Cross-entropy of every head (later heads on matched rows only), plus
    ``efficiency_weight − 1`` times the binary cross-entropy of head 0's "not reconstructed"
    against the rest. The 101-way loss of head 0 is exactly that binary term plus the residual
    term of the matched rows, so the weight only shifts the optimisation's attention to the
    efficiency; both terms are minimised by the true distribution."""
    logits = net(x, positions)
    log_p = F.log_softmax(logits[0], dim=1)  # one normalisation serves both terms
    loss = F.nll_loss(log_p, categories[:, 0])
    if efficiency_weight != 1.0:
        log_kept = torch.logsumexp(log_p[:, 1:], dim=1)
        binary = torch.where(~matched, log_p[:, 0], log_kept).mean()
        loss = loss - (efficiency_weight - 1.0) * binary
    if matched.any():
        for k in range(1, len(logits)):
            loss = loss + F.cross_entropy(logits[k][matched], categories[matched, k])
    return loss


def _optimise(
    net: SmearNet,
    data: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
    train: torch.Tensor,
    val: torch.Tensor,
    config: TrainConfig,
    efficiency_weight: float,
    desc: str,
) -> tuple[list[float], int, int | None]:
    """Adam on the ``train`` rows of ``data`` = (inputs, categories, positions, matched), cosine
    schedule over ``config.epochs``, early stopping on the ``val`` rows; after an early stop the
    best epoch (weights and optimiser state) is cooled down: ``config.cooldown`` epochs with the
    learning rate falling linearly from the best epoch's to 0. Leaves ``net`` at the best epoch
    of all and returns (validation losses per epoch, best epoch, epoch cooled from or None)."""
    x, categories, positions, matched = data
    steps_per_epoch = math.ceil(train.numel() / config.batch_size)
    optimiser = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
    n_steps = config.epochs * steps_per_epoch
    cosine = config.learning_rate * 0.5 * (1 + np.cos(np.pi * np.arange(n_steps) / n_steps))
    generator = torch.Generator().manual_seed(config.seed)
    bar = tqdm(total=config.epochs, desc=desc, disable=not config.progress)
    history: list[float] = []
    best: tuple[float, int, tuple[dict, dict]] = (math.inf, 0, ({}, {}))

    def epoch_at(learning_rates: np.ndarray) -> None:
        """One pass over the training rows at the given per-step learning rates, then the
        validation loss (recorded; the best epoch's state kept)."""
        nonlocal best
        net.train()
        perm = train[torch.randperm(train.numel(), generator=generator)]
        for i, lr in enumerate(learning_rates):
            for group in optimiser.param_groups:
                group["lr"] = float(lr)
            b = perm[i * config.batch_size : (i + 1) * config.batch_size]
            loss = _loss(net, x[b], categories[b], positions[b], matched[b], efficiency_weight)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
        net.eval()
        with torch.no_grad():
            val_loss = float(
                _loss(net, x[val], categories[val], positions[val], matched[val],
                      efficiency_weight)
            )
        history.append(round(val_loss, 5))
        bar.update()
        bar.set_postfix(val_loss=f"{val_loss:.4f}")
        if val_loss < best[0]:
            state = copy.deepcopy(net.state_dict()), copy.deepcopy(optimiser.state_dict())
            best = (val_loss, len(history) - 1, state)

    stopped_early = False
    for epoch in range(config.epochs):
        epoch_at(cosine[epoch * steps_per_epoch : (epoch + 1) * steps_per_epoch])
        if epoch > best[1] and epoch - best[1] >= config.patience and epoch + 1 < config.epochs:
            stopped_early = True
            break
    if not math.isfinite(best[0]):
        raise RuntimeError(f"{desc}: no epoch gave a finite validation loss ({history})")
    cooled_from = best[1] if stopped_early and config.cooldown > 0 else None
    if cooled_from is not None:
        net.load_state_dict(best[2][0])
        optimiser.load_state_dict(best[2][1])
        n_cool = config.cooldown * steps_per_epoch
        decay = cosine[(cooled_from + 1) * steps_per_epoch - 1] * (
            1 - np.arange(1, n_cool + 1) / n_cool
        )
        bar.total += config.cooldown
        for k in range(config.cooldown):
            epoch_at(decay[k * steps_per_epoch : (k + 1) * steps_per_epoch])
    bar.close()
    net.load_state_dict(best[2][0])
    return history, best[1], cooled_from


def fit_model(
    kind: str,
    truth: Mapping[str, np.ndarray],
    reco: Mapping[str, np.ndarray],
    matched: np.ndarray,
    *,
    inputs: Sequence[tuple[str, str]] | None = None,
    thresholds: Mapping[str, float] | None = None,
    config: TrainConfig = TrainConfig(),
    card: Mapping | None = None,
    tag_types: Mapping[str, str] | None = None,
) -> KindModel:
    """Train the model of one object kind.

    Arguments:
        kind: object kind.
        truth: flat truth columns by field (``pt`` in GeV, ``eta``, ``phi``, ``mass``, extras).
        reco: flat reco columns by quantity (values of unmatched rows are ignored).
        matched: bool per truth object; false = not reconstructed. Always true for MET.
        inputs: ``(field, transform)`` pairs; default: the kind's defaults.
        thresholds: reco cuts applied after smearing (``pt_min`` GeV, ``abs_eta_max``). Kinds
            with an efficiency also get ``truth_abs_eta_max`` (``config.truth_acceptance``),
            the largest truth |η| the teacher reconstructed; the rows beyond it are not trained
            on (the learnt detector loses them unsampled, :meth:`KindModel.in_acceptance`); a
            ``truth_abs_eta_max`` passed in is replaced (or dropped when the option is off).
        config: training settings.
        card: provenance recorded in the model card (generator, card, event counts, ...).
        tag_types: tags to learn after the kinematics (their reco values in ``reco``), each
            ``"decision"`` (0/1) or ``"discriminant"``, see :class:`~mlsmear.model.KindModel`.
    """
    if not (config.efficiency_weight >= 1.0 and math.isfinite(config.efficiency_weight)):
        raise ValueError(f"efficiency_weight must be a number >= 1, got {config.efficiency_weight}")
    if config.cooldown < 0:
        raise ValueError(f"cooldown must be >= 0 epochs, got {config.cooldown}")
    spec = kind_spec(kind)
    matched = np.asarray(matched, dtype=bool)
    if not spec.has_efficiency and not matched.all():
        raise ValueError(f"{kind} objects are always reconstructed: every row must be matched")
    if matched.sum() < 1000:
        raise ValueError(f"too few matched {kind} objects to train ({matched.sum()} < 1000)")
    thresholds = {k: v for k, v in (thresholds or {}).items() if k != "truth_abs_eta_max"}
    n_objects, beyond = matched.size, 0
    if config.truth_acceptance and spec.has_efficiency and "eta" in truth:
        truth, reco, matched, thresholds["truth_abs_eta_max"], beyond = _inside_acceptance(
            truth, reco, matched
        )
    weight = config.efficiency_weight if spec.has_efficiency else 1.0
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    features = [InputFeature.fit(n, t, truth[n]) for n, t in (inputs or spec.inputs)]
    tag_types = dict(tag_types or {})
    tags = tuple(tag_types)
    zero = zero_rows(kind, reco, matched, tags) if config.zero_category else {}
    binnings = _fit_binnings(kind, truth, reco, matched, zero, config, tags)
    categories, positions = training_targets(kind, truth, reco, matched, binnings, zero, tags)
    x = torch.from_numpy(input_matrix(features, truth))
    cat_t, pos_t = torch.from_numpy(categories), torch.from_numpy(positions.astype(np.float32))
    matched_t = torch.from_numpy(matched)
    net = SmearNet(
        x.shape[1], len(spec.quantities) + len(tags), trunk=config.trunk, head=config.head,
        autoregressive=config.autoregressive,
    )
    order = rng.permutation(matched.size)
    n_val = max(1, int(config.validation_fraction * matched.size))
    val, train = torch.from_numpy(order[:n_val]), torch.from_numpy(order[n_val:])
    start = time.perf_counter()
    history, best_epoch, cooled_from = _optimise(
        net, (x, cat_t, pos_t, matched_t), train, val, config, weight, f"train {kind}"
    )
    training = {
        "config": asdict(config),
        "inputs": [f.to_config() for f in features],
        "objects": int(n_objects), "matched": int(matched.sum()),
        "beyond_truth_acceptance": beyond,
        "validation_loss": history, "best_epoch": best_epoch, "cooled_from_epoch": cooled_from,
        "seconds": round(time.perf_counter() - start, 1),
    }
    full_card = {**(card or {}), "training": {**(card or {}).get("training", {}), **training}}
    return KindModel(
        kind, features, binnings, net, thresholds, full_card,
        zero_quantities=tuple(zero), tags=tags, tag_types=tag_types,
    )
