"""Models and bundles: the learnt detector for one object kind, and the set for one detector.

A :class:`KindModel` holds the ordered quantities with their residual kinds and binnings, the
input features with their stored transforms, the :class:`~mlsmear.network.SmearNet`, the reco
thresholds applied after smearing and the model card (provenance, validation figures).

On disk a model is two files side by side: ``<kind>.safetensors`` (network weights, binning and
input knots) and ``<kind>.json`` (the model card, which records the SHA-256 of the tensor file),
read and written by :mod:`mlsmear.model_files` (never executing code). A :class:`Bundle` is a
directory of such pairs, one per kind. Models are immutable: a copy with another evaluation
precision is ``dataclasses.replace(model, precision="bfloat16")``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .binning import ResidualBinning
from .evaluators import BACKENDS, Evaluator, OnnxEvaluator, OnnxSessions, TorchEvaluator
from .flavour_neighbours import FLAVOUR_NEIGHBOUR_FIELDS
from .kinds import KINDS, TAG_RESIDUAL, KindSpec, kind_spec
from .met_context import RECOIL_FIELDS, derived_names, uses_objects
from .model_files import (
    FORMAT,
    FORMAT_VERSION,
    PRECISIONS,
    ModelFileError,
    read_model,
    write_model,
)
from .network import SmearNet
from .sibling_context import SIBLING_FIELDS
from .transforms import InputFeature, input_matrix

__all__ = [
    "KindModel", "Bundle", "ModelFileError", "BACKENDS", "ENGINE_INPUTS", "FORMAT",
    "FORMAT_VERSION", "PRECISIONS", "TAG_TYPES", "passes_thresholds",
]

#: Inputs the engine computes from the other objects of each event (never read from the truth
#: record): the siblings' sampled outcome and the jets' flavoured neighbours.
ENGINE_INPUTS = (*SIBLING_FIELDS, *FLAVOUR_NEIGHBOUR_FIELDS)

#: Kinds of tag a model may learn: a working-point decision (0/1) or a continuous discriminant.
TAG_TYPES = ("decision", "discriminant")


def passes_thresholds(
    thresholds: Mapping[str, float], reconstructed: np.ndarray, reco: Mapping[str, np.ndarray]
) -> np.ndarray:
    """Reconstructed objects passing a model's reco cuts (``pt_min`` GeV, ``abs_eta_max``)."""
    keep = np.asarray(reconstructed, dtype=bool).copy()
    with np.errstate(invalid="ignore"):
        if "pt_min" in thresholds:
            keep &= reco["pt"] > thresholds["pt_min"]
        if "abs_eta_max" in thresholds and "eta" in reco:
            keep &= np.abs(reco["eta"]) <= thresholds["abs_eta_max"]
    return keep


@dataclass(frozen=True)
class KindModel:
    """The learnt detector response for one object kind.

    Arguments:
        kind: ``jet``, ``electron``, ``muon``, ``photon`` or ``met``.
        inputs: truth input features, in network column order.
        binnings: one residual binning per quantity of the kind, in sampling order.
        net: the classifier network.
        thresholds: cuts applied to the smeared objects: ``pt_min`` (GeV), ``abs_eta_max``; and
            ``truth_abs_eta_max``, the truth acceptance: objects beyond this truth |η| are lost
            without being sampled (the largest truth |η| the teacher reconstructed in the
            training data, set by :func:`~mlsmear.training.fit_model`: a network smears the
            teacher's sharp geometric edge over a few hundredths in η).
        card: free-form provenance and validation figures recorded in the model card.
        precision: dtype of the network's evaluation, ``"float32"`` or ``"bfloat16"`` (weights
            and activations; softmax and sampling stay float32/float64). Part of the card: the
            validation figures are measured at this precision.
        zero_quantities: quantities whose head's category 0 means "reco value exactly 0" (e.g.
            the mass of a one-tower jet), see :class:`~mlsmear.kinds.KindSpec`.
        tags: tag quantities sampled after the kinematics (among the kind's
            :attr:`~mlsmear.kinds.KindSpec.tags`, e.g. ``("btag",)``), each with its own binning.
        tag_types: per tag, ``"decision"`` (a working-point teacher: reco value 0 or 1) or
            ``"discriminant"`` (a continuous score, e.g. NanoAOD ``btagDeepFlavB``).
        backend: what evaluates the network on the CPU in float32, ``"torch"`` or
            ``"onnxruntime"`` (:mod:`mlsmear.evaluators`); CUDA and bfloat16 always use torch.
            Part of the card: the validation figures are measured with it.
    """

    kind: str
    inputs: list[InputFeature]
    binnings: list[ResidualBinning]
    net: SmearNet
    thresholds: dict[str, float] = field(default_factory=dict)
    card: dict[str, Any] = field(default_factory=dict)
    precision: str = "float32"
    zero_quantities: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    tag_types: dict[str, str] = field(default_factory=dict)
    backend: str = "torch"
    _evaluation_nets: dict[tuple[Any, ...], SmearNet | OnnxSessions] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        spec = kind_spec(self.kind)
        object.__setattr__(self, "tags", tuple(self.tags))
        if not set(self.tags) <= set(spec.tags) or len(set(self.tags)) != len(self.tags):
            raise ModelFileError(
                f"{self.kind} model: tags {list(self.tags)} must be distinct among "
                f"{list(spec.tags)}"
            )
        if set(self.tag_types) != set(self.tags) or not set(self.tag_types.values()) <= set(
            TAG_TYPES
        ):
            raise ModelFileError(
                f"{self.kind} model: tag_types {self.tag_types} must give each tag "
                f"{list(self.tags)} one of {list(TAG_TYPES)}"
            )
        quantities = self.quantities
        if len(self.binnings) != len(quantities):
            raise ModelFileError(
                f"{self.kind} model needs {len(quantities)} binnings "
                f"({', '.join(quantities)}), got {len(self.binnings)}"
            )
        n_columns = sum(f.n_columns for f in self.inputs)
        if n_columns != self.net.n_inputs or self.net.n_quantities != len(quantities):
            raise ModelFileError(
                f"{self.kind} model: network expects {self.net.n_inputs} inputs and "
                f"{self.net.n_quantities} quantities, features give {n_columns} and the model "
                f"has {len(quantities)}"
            )
        unknown = set(self.thresholds) - {"pt_min", "abs_eta_max", "truth_abs_eta_max"}
        if unknown:
            raise ModelFileError(
                f"unknown thresholds {sorted(unknown)}; valid: pt_min, abs_eta_max, "
                "truth_abs_eta_max"
            )
        object.__setattr__(self, "zero_quantities", tuple(self.zero_quantities))
        if not set(self.zero_quantities) <= {*spec.may_be_zero, *self.tags}:
            raise ModelFileError(
                f"{self.kind} model: zero_quantities {list(self.zero_quantities)} must be among "
                f"{[*spec.may_be_zero, *self.tags]}"
            )
        if self.precision not in PRECISIONS:
            raise ModelFileError(
                f"unknown precision {self.precision!r}; valid: {', '.join(PRECISIONS)}"
            )
        if self.backend not in BACKENDS:
            raise ModelFileError(f"unknown backend {self.backend!r}; valid: {', '.join(BACKENDS)}")
        self.net.eval()

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the evaluation copies (onnxruntime sessions do not pickle; they are
        rebuilt where the model is used)."""
        return {**self.__dict__, "_evaluation_nets": {}}

    def evaluation_net(
        self, device: str | torch.device, precision: str | None = None
    ) -> SmearNet:
        """The network on ``device`` in ``precision`` (default the model's): :attr:`net` itself
        for float32 on the CPU, else a copy made once per device (type and index) and precision
        (the network itself is fixed: the model is immutable)."""
        device = torch.device(device)
        precision = precision or self.precision
        if precision not in PRECISIONS:
            raise ValueError(
                f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}"
            )
        if device.type == "cpu" and precision == "float32":
            return self.net
        key = (device.type, device.index, precision)
        if key not in self._evaluation_nets:
            dtype = PRECISIONS[precision]
            self._evaluation_nets[key] = copy.deepcopy(self.net).to(device=device, dtype=dtype)
        net = self._evaluation_nets[key]
        assert isinstance(net, SmearNet)
        return net

    def evaluates_per_thread(self, device: str | torch.device, precision: str | None = None
                             ) -> bool:
        """True where :meth:`evaluator` uses onnxruntime (the card's :attr:`backend`, float32, on
        the CPU): its sessions run one intra-op thread each, and the engine runs batches side by
        side on :func:`torch.get_num_threads` threads instead."""
        return self.backend == "onnxruntime" and torch.device(device).type == "cpu" and (
            (precision or self.precision) == "float32"
        )

    def evaluator(self, device: str | torch.device, precision: str | None = None) -> Evaluator:
        """A fresh evaluation of the network (one per batch: it holds the batch) on ``device`` in
        ``precision`` (default the model's): with onnxruntime where :meth:`evaluates_per_thread`
        (one thread per session, the sessions built once), else with torch
        (:meth:`evaluation_net`, torch's intra-op threads)."""
        device = torch.device(device)
        if self.evaluates_per_thread(device, precision):
            key = ("onnxruntime",)
            if key not in self._evaluation_nets:
                self._evaluation_nets[key] = OnnxSessions.of_network(self.net, threads=1)
            sessions = self._evaluation_nets[key]
            assert isinstance(sessions, OnnxSessions)
            return OnnxEvaluator(sessions)
        return TorchEvaluator(self.evaluation_net(device, precision), device)

    @property
    def spec(self) -> KindSpec:
        """The :class:`~mlsmear.kinds.KindSpec` of this model."""
        return kind_spec(self.kind)

    @property
    def quantities(self) -> tuple[str, ...]:
        """Sampled quantities in order: the kind's kinematics, then the model's tags."""
        return (*self.spec.quantities, *self.tags)

    @property
    def residual_kinds(self) -> tuple[str, ...]:
        """Residual kind of each of :attr:`quantities`."""
        return (*self.spec.residuals, *(TAG_RESIDUAL for _ in self.tags))

    def in_acceptance(self, eta: np.ndarray) -> np.ndarray | None:
        """Bool per object: its truth ``eta`` is inside the truth acceptance
        (``thresholds["truth_abs_eta_max"]``); None when the model has none."""
        edge = self.thresholds.get("truth_abs_eta_max")
        return None if edge is None else np.abs(np.asarray(eta)) <= edge

    def features(self, truth: Mapping[str, np.ndarray]) -> np.ndarray:
        """Network input matrix ``(n, n_inputs)`` float32 from flat truth columns."""
        return input_matrix(self.inputs, truth)

    @property
    def input_fields(self) -> list[str]:
        """Truth fields the model reads (its inputs plus the truth values of its quantities)."""
        names = [f.name for f in self.inputs] + list(self.spec.quantities)
        if uses_objects(self.card):  # |GenMET| and |D| come from the record's GenMET and D
            names = [n for n in names if n not in derived_names()] + list(RECOIL_FIELDS)
        names = [n for n in names if n not in ENGINE_INPUTS]
        return list(dict.fromkeys(names))

    def __repr__(self) -> str:
        inputs = ", ".join(f"{f.name}:{f.transform}" for f in self.inputs)
        return f"KindModel(kind={self.kind!r}, inputs=[{inputs}], net={self.net.config()})"

    # -- serialisation -------------------------------------------------------------------------

    def tensors(self) -> dict[str, torch.Tensor]:
        """Every array of the model, named, for safetensors."""
        out = {f"net.{k}": v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()}
        for name, binning in zip(self.quantities, self.binnings, strict=True):
            out[f"binning.{name}.knots"] = torch.from_numpy(binning.knots.copy())
        for feature in self.inputs:
            out[f"input.{feature.name}.knots"] = torch.from_numpy(feature.knots.copy())
        return out

    def card_dict(self, sha256: str) -> dict[str, Any]:
        """The JSON model card."""
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "kind": self.kind,
            "quantities": [
                {"name": q, "residual": r, "binning": b.to_config()}
                for q, r, b in zip(self.quantities, self.residual_kinds, self.binnings, strict=True)
            ],
            "tags": {t: self.tag_types[t] for t in self.tags},
            "inputs": [f.to_config() for f in self.inputs],
            "network": self.net.config(),
            "thresholds": self.thresholds,
            "precision": self.precision,
            "backend": self.backend,
            "zero_quantities": list(self.zero_quantities),
            "tensors_sha256": sha256,
            **self.card,
        }

    def save(self, directory: str | Path) -> Path:
        """Write ``<kind>.safetensors`` and ``<kind>.json`` into ``directory``; returns the card."""
        return write_model(
            Path(directory), self.kind, self.tensors(), [f.name for f in self.inputs],
            self.card_dict,
        )

    @classmethod
    def load(cls, card_path: str | Path) -> KindModel:
        """Load a model from its JSON card (the tensor file sits beside it)."""
        card_path = Path(card_path)
        card, tensors = read_model(card_path)
        return cls._from_card(card, tensors, card_path)

    @classmethod
    def _from_card(
        cls, card: dict[str, Any], tensors: dict[str, torch.Tensor], where: Path
    ) -> KindModel:
        try:
            kind = card["kind"]
            spec = kind_spec(kind)
            quantities = [q["name"] for q in card["quantities"]]
            tag_types = dict(card.get("tags", {}))
            expected = [*spec.quantities, *tag_types]
            if quantities != expected:
                raise ModelFileError(f"{where}: quantities {quantities} != {expected}")
            binnings = [
                ResidualBinning(
                    tensors[f"binning.{q['name']}.knots"].numpy(),
                    n_bins=q["binning"]["n_bins"], tail_lo=q["binning"]["tail_lo"],
                    tail_hi=q["binning"]["tail_hi"], clip=q["binning"]["clip"],
                )
                for q in card["quantities"]
            ]
            inputs = [
                InputFeature(f["name"], f["transform"], tensors[f"input.{f['name']}.knots"].numpy())
                for f in card["inputs"]
            ]
            net = SmearNet(**{**card["network"], "trunk": tuple(card["network"]["trunk"])})
            state = {k[4:]: v for k, v in tensors.items() if k.startswith("net.")}
            net.load_state_dict(state, strict=True)
        except ModelFileError:
            raise
        except (KeyError, TypeError, RuntimeError, ValueError, ArithmeticError) as err:
            raise ModelFileError(f"{where}: model card and tensors do not fit: {err}") from err
        extra = {k: v for k, v in card.items() if k not in _CARD_KEYS}
        try:
            return cls(
                kind, inputs, binnings, net, dict(card.get("thresholds", {})), extra,
                card.get("precision", "float32"), tuple(card.get("zero_quantities", ())),
                tuple(tag_types), tag_types, card.get("backend", "torch"),
            )
        except ModelFileError:
            raise
        except (KeyError, TypeError, ValueError) as err:
            raise ModelFileError(f"{where}: invalid model card: {err}") from err


_CARD_KEYS = {
    "format", "format_version", "kind", "quantities", "inputs", "network", "thresholds",
    "precision", "zero_quantities", "tensors_sha256", "tags", "backend",
}


@dataclass
class Bundle(Mapping[str, KindModel]):
    """The models of one detector, by kind (``bundle["jet"]``).

    Arguments:
        name: the bundle's name (e.g. ``atlas-like``).
        models: models by kind.
    """

    name: str
    models: dict[str, KindModel]

    def __getitem__(self, kind: str) -> KindModel:
        try:
            return self.models[kind]
        except KeyError:
            raise KeyError(
                f"bundle {self.name!r} has no {kind!r} model; it has {sorted(self.models)}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.models)

    def __len__(self) -> int:
        return len(self.models)

    def save(self, directory: str | Path) -> Path:
        """Write every model of the bundle into ``directory``."""
        for model in self.models.values():
            model.save(directory)
        return Path(directory)

    @classmethod
    def load(cls, directory: str | Path) -> Bundle:
        """Load every ``<kind>.json`` model card in ``directory``."""
        directory = Path(directory)
        cards = sorted(p for p in directory.glob("*.json") if p.stem in KINDS)
        if not cards:
            raise ModelFileError(f"{directory} holds no model cards (<kind>.json)")
        return cls(directory.name, {p.stem: KindModel.load(p) for p in cards})


