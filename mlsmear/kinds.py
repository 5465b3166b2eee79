"""Object kinds: which quantities are reconstructed, their residual kinds and default inputs."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "COFFEA_TRUTH", "DERIVED_INPUTS", "KindSpec", "KINDS", "OBJECT_PDG", "TAG_RESIDUAL",
    "ZERO_TOLERANCE", "kind_spec",
]

#: Residual kind of tag quantities: the reco value itself (a decision 0/1 or a discriminant).
TAG_RESIDUAL = "value"

#: Reco values at or below this (GeV) count as exactly 0 (E² − p² rounding of massless jets
#: gives up to 1e-4 GeV; the next reference jet masses start at 0.1 GeV).
ZERO_TOLERANCE = 1e-3


@dataclass(frozen=True)
class KindSpec:
    """What a model of one object kind reconstructs.

    Arguments:
        name: ``jet``, ``electron``, ``muon``, ``photon`` or ``met``.
        quantities: reconstructed quantities in sampling order (the autoregressive order).
        residuals: residual kind of each quantity (see :mod:`mlsmear.residuals`).
        inputs: default truth inputs ``(field, transform)`` (see :mod:`mlsmear.transforms`).
        has_efficiency: objects can be lost (category 0 of the first head); false for MET.
        per_event: one object per event (MET) rather than a jagged collection.
        may_be_zero: quantities whose reco value can be exactly 0 (a jet of one calorimeter tower
            is massless): when the training data hold such values, category 0 of that head means
            "reco value 0" (see :data:`ZERO_TOLERANCE`).
        tags: optional quantities a model of the kind may add after the kinematics (jets: the
            b- and c-tag), sampled last, conditioned on the truth inputs and the sampled
            kinematic residuals; residual kind :data:`TAG_RESIDUAL`, and always allowed an exact
            0 (untagged, or a discriminant of 0).
        source: the kind of truth object the model reads, when not its own (photons from lost
            electrons read the truth electrons: :mod:`mlsmear.electron_photons`).
        joins: the reco collection its objects belong to, when not its own (those photons join
            the photons).
        pdg: |PDG id| of the kind's prompt truth particle (0: not a particle kind).
        mass: mass (GeV) of its reco objects when they carry no mass quantity (None: they do).
        collection: name of its reco collection (``Jet``, ``Electron``, ..., ``MET``): NanoAOD's,
            Delphes' branch names of e/μ/γ, the filter's selection names.
    """

    name: str
    quantities: tuple[str, ...]
    residuals: tuple[str, ...]
    inputs: tuple[tuple[str, str], ...]
    has_efficiency: bool = True
    per_event: bool = False
    may_be_zero: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    source: str | None = None
    joins: str | None = None
    pdg: int = 0
    mass: float | None = None
    collection: str = ""

    @property
    def truth_kind(self) -> str:
        """The kind of truth object the model reads (its own unless ``source``)."""
        return self.source or self.name


_PARTICLE_INPUTS = (("pt", "quantile"), ("eta", "quantile"))
_PARTICLE = (("pt", "eta", "phi"), ("log_ratio", "diff", "delta_phi"), _PARTICLE_INPUTS)

KINDS: dict[str, KindSpec] = {
    "jet": KindSpec(
        "jet",
        ("pt", "eta", "phi", "mass"),
        ("log_ratio", "diff", "delta_phi", "diff_over_pt"),
        (("pt", "quantile"), ("eta", "quantile"), ("mass", "quantile")),
        may_be_zero=("mass",),
        tags=("btag", "ctag"),
        collection="Jet",
    ),
    "electron": KindSpec("electron", *_PARTICLE, pdg=11, mass=0.000511, collection="Electron"),
    "muon": KindSpec("muon", *_PARTICLE, pdg=13, mass=0.105658, collection="Muon"),
    "photon": KindSpec("photon", *_PARTICLE, pdg=22, mass=0.0, collection="Photon"),
    "photon_from_electron": KindSpec(
        "photon_from_electron", *_PARTICLE, source="electron", joins="photon", mass=0.0,
        collection="Photon",
    ),
    "met": KindSpec(
        "met",
        ("pt", "phi"),
        ("norm_diff", "delta_phi"),
        (("pt", "quantile"), ("ht", "quantile"), ("njet", "quantile")),
        has_efficiency=False,
        per_event=True,
        collection="MET",
    ),
}
#: |PDG id| of the prompt truth particle of each particle kind (electron, muon, photon).
OBJECT_PDG = {name: spec.pdg for name, spec in KINDS.items() if spec.pdg}


#: Truth inputs defined from the rest of the event (definitions: :mod:`mlsmear.physics.truth`),
#: with what their values mean; coffea NanoEvents inputs get them computed.
DERIVED_INPUTS: dict[str, str] = {
    "hadronFlavour": "5 b, 4 c, 0 light: a weakly-decaying b/c hadron within ΔR < 0.3 "
    "(NanoAOD GenJet_hadronFlavour)",
    "muon_frac": "summed pT of prompt muons within ΔR < 0.4 over the jet pT, 0-1 (0: none)",
    "em_frac": "summed pT of prompt electrons and photons within ΔR < 0.4 over the jet pT, 0-1 "
    "(0: none)",
    "dr_nearest": "ΔR to the closest other GenJet (10: alone)",
    "nb_pt_ratio": "pT of that closest GenJet over the jet pT (0: alone)",
    "activity": "summed pT of the other GenJets within ΔR < 1.0 over the jet pT (0: alone)",
    "dr_b": "ΔR to the closest other GenJet with hadronFlavour 5 (10: none; computed from the "
    "event's GenJets, mlsmear.flavour_neighbours)",
    "dr_c": "ΔR to the closest other GenJet with hadronFlavour 4 (10: none; as dr_b)",
    "jet_iso": "(pT of the closest GenJet within ΔR < 0.4 minus the object pT) over the object "
    "pT, >= 0 (0: no GenJet that close)",
    "nb_jet_dr": "ΔR to the closest GenJet other than the object's own (the one jet_iso reads; "
    "10: none)",
    "nb_jet_ratio": "pT of that GenJet over the object pT (0: none)",
    "em_iso": "summed pT of the other prompt electrons and photons within ΔR < 0.4 over the "
    "object pT (0: none)",
    "muon_iso": "summed pT of the other prompt muons within ΔR < 0.4 over the object pT (0: none)",
    "dressing": "summed pT of the prompt photons (any pT) within ΔR < 0.1 over the lepton pT "
    "(0: none; NanoAOD GenDressedLepton's cone)",
    "charge": "electric charge of the electron or muon, -1 or +1 (NanoAOD: from pdgId)",
    "ht": "scalar pT sum of the GenJets with pT > 20 GeV (GeV)",
    "njet": "number of GenJets with pT > 20 GeV",
}

#: The coffea NanoEvents truth collection whose smearing computes each kind's derived inputs.
COFFEA_TRUTH = {
    "jet": "events.GenJet",
    "electron": "events.GenPart with kind='electron'",
    "muon": "events.GenPart with kind='muon'",
    "photon": "events.GenPart with kind='photon'",
    "photon_from_electron": "events.GenPart with kind='photon' (from the events' electrons)",
    "met": "events.GenMET",
}


def kind_spec(name: str) -> KindSpec:
    """The :class:`KindSpec` called ``name``; ``ValueError`` listing the valid names otherwise."""
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown object kind {name!r}; expected one of {list(KINDS)}") from None
