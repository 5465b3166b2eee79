"""The reference detector: the card's stages run in order over a batch of events."""

from __future__ import annotations

import os

import awkward as ak
import numpy as np

from ..physics.collection import Collection
from .card import DETECTOR_INPUTS, Card, load_card
from .stage import RunContext, Stage

__all__ = ["HADRON_FIELDS", "PARTICLE_FIELDS", "Detector"]

#: Fields the ``particles`` input must have: pT (GeV), eta, phi, mass (GeV), PDG id, charge (e).
PARTICLE_FIELDS = ("pt", "eta", "phi", "mass", "pid", "charge")
#: Fields of the ``hadrons`` input (b/c hadrons for jet flavour): ``flavour`` is 5 or 4.
HADRON_FIELDS = ("pt", "eta", "phi", "flavour")


def _as_collection(value: ak.Array | Collection, fields: tuple[str, ...], what: str) -> Collection:
    if isinstance(value, Collection):
        missing = [f for f in fields if f not in value]
        if missing:
            raise ValueError(f"{what} lack the columns {missing}; they need {list(fields)}")
        return Collection(value.offsets, {f: value[f] for f in fields})
    try:
        return Collection.from_awkward(value, fields)
    except ValueError as err:
        raise ValueError(f"{what}: {err}") from None


class Detector:
    """A card-driven particle-level detector (Delphes style).

    Example:
        >>> det = Detector.from_card("atlas-like")
        >>> reco = det.run(particles, seed=1, hadrons=hadrons)  # doctest: +SKIP
        >>> reco["jet"].to_awkward().pt                          # doctest: +SKIP
    """

    def __init__(self, card: Card) -> None:
        self.card = card
        self.stages: tuple[Stage, ...] = tuple(spec.build() for spec in card.stages)

    @classmethod
    def from_card(cls, name_or_path: str | os.PathLike[str]) -> Detector:
        """Build from a shipped card name (``"atlas-like"``) or a TOML card path."""
        return cls(load_card(name_or_path))

    def __repr__(self) -> str:
        lines = [f"Detector({self.card.name!r}, execution path:"]
        lines += [f"  {stage!r}" for stage in self.stages]
        lines.append(f"  outputs: {self.card.outputs})")
        return "\n".join(lines)

    def run(
        self,
        particles: ak.Array | Collection,
        rng_or_seed: np.random.Generator | int,
        *,
        hadrons: ak.Array | Collection | None = None,
    ) -> dict[str, Collection]:
        """Simulate the detector response for a batch of events.

        Arguments:
            particles: stable generator particles per event, fields :data:`PARTICLE_FIELDS`
                (jagged awkward record array or :class:`Collection`). Neutrinos may be included:
                no stage measures them.
            rng_or_seed: a numpy Generator or an integer seed; the output is a pure function of
                the input and the seed.
            hadrons: weakly-decaying b/c hadrons per event, fields :data:`HADRON_FIELDS`, for jet
                flavour and b-tagging; ``None`` means no heavy flavour (all jets light).

        Returns:
            ``{kind: Collection}`` for the kinds ``jet, electron, muon, photon, met``. Jets have
            columns pt, eta, phi, mass (GeV), flavour, btag; leptons pt, eta, phi, mass, charge;
            photons pt, eta, phi, mass; met one row per event with pt (GeV) and phi.
        """
        parts = _as_collection(particles, PARTICLE_FIELDS, "particles")
        for name in ("pt", "eta", "phi", "mass"):
            if not np.all(np.isfinite(parts[name])):
                raise ValueError(f"particles have non-finite values of {name!r}")
        n_events = parts.n_events
        if hadrons is None:
            heavy = Collection.empty(n_events, {f: np.float64 for f in HADRON_FIELDS})
        else:
            heavy = _as_collection(hadrons, HADRON_FIELDS, "hadrons")
            if heavy.n_events != n_events:
                raise ValueError(f"hadrons have {heavy.n_events} events, particles {n_events}")
        rng = (
            rng_or_seed
            if isinstance(rng_or_seed, np.random.Generator)
            else (np.random.default_rng(rng_or_seed))
        )
        ctx = RunContext(rng=rng, n_events=n_events, next_uid=len(parts))
        # Straight-line propagation: the calorimeter sees the generated direction.
        parts = parts.with_columns(
            uid=np.arange(len(parts), dtype=np.int64),
            calo_eta=parts["eta"],
            calo_phi=parts["phi"],
        )
        store = dict(zip(DETECTOR_INPUTS, (parts, heavy), strict=True))
        for stage in self.stages:
            results = stage.run([store[name] for name in stage.inputs], ctx)
            store.update(zip(stage.outputs, results, strict=True))
        return {kind: store[name] for kind, name in self.card.outputs.items()}
