"""Truth objects from a generator record: GenJets, prompt e/mu/gamma, GenMET.

Works on any record :class:`~mlsmear.refdet.Collection` with the columns ``pid``, ``mother1``
(row of the first mother in the same event, -1 for none), ``final``, ``pt``, ``eta``, ``phi``,
``mass`` and ``charge`` (Pythia batches, particle guns, Delphes ``Particle`` branches).

Definitions (GeV):

- **GenJets**: anti-kt R = 0.4 on all final-state particles except neutrinos (and the lightest
  neutralino), pT > 10. ``hadronFlavour``: 5 / 4 / 0 when a weakly-decaying b / c hadron
  (the last b or c hadron of its decay chain, pT > 5) lies within Delta R < 0.3 of the jet axis;
  each hadron labels only its closest jet; b wins over c. ``dr_nearest``: Delta R to the closest
  other GenJet (10 when the jet is alone); ``nb_pt_ratio``: pT of that closest GenJet over the
  jet's pT (0 when alone); ``activity``: summed pT of the other GenJets within Delta R < 1.0
  over the jet's pT — the neighbourhood in which a detector merges, splits and shares energy
  between close-by jets (:func:`neighbour_context`). ``muon_frac`` / ``em_frac``: summed pT of
  the prompt muons / prompt electrons and photons (below) within Delta R < 0.4 of the jet axis
  over the jet pT, at most 1 — GenJets include leptons and photons, and a jet that is mostly a
  prompt muon leaves no calorimeter jet while an electron or photon jet is narrow and light.
- **Prompt e / mu / gamma**: final-state particles with pT > 5 whose ancestry (first mothers) holds
  no hadron other than the beams; leptons from a prompt tau count as prompt. ``iso``: summed pT of
  the other visible final-state particles within Delta R < 0.4, divided by the object's pT.
  ``jet_iso``: the same idea from GenJets alone (NanoAOD keeps GenJets but prunes the particles):
  (pT of the closest GenJet within Delta R < 0.4, which contains the object, minus the object's
  pT) over the object's pT, at least 0; 0 when no GenJet is that close. ``nb_jet_dr`` /
  ``nb_jet_ratio``: Delta R to the closest GenJet other than that one (10 when none) and its pT
  over the object's (0 when none) — a neighbouring jet whose edge reaches into the detector's
  isolation cone, which is wider than the object's own GenJet (:func:`jet_surroundings`).
  ``em_iso`` / ``muon_iso``:
  summed pT of the *other* prompt electrons and photons / prompt muons within Delta R < 0.4 over
  the object's pT (0: none) — what of ``jet_iso`` is prompt e/gamma or mu rather than hadrons (a
  collinear FSR photon, the other lepton of a boosted Z), which detectors' isolation treats apart
  (:func:`prompt_isolation`). ``dressing`` (electrons and muons): summed pT of the prompt
  photons of any pT within Delta R < 0.1 over the lepton's pT (0: none) — the collinear FSR that
  NanoAOD's ``GenDressedLepton`` adds back, and that a calorimeter measures with an electron
  when it lands in the electron's cell (:func:`lepton_dressing`).
- **GenMET**: vector sum of the neutrinos' pT; ``ht``: scalar sum of the pT of GenJets with
  pT > 20 (no eta cut); ``njet``: their number.
"""

from __future__ import annotations

from collections.abc import Mapping

import awkward as ak
import numba
import numpy as np

from ..kinds import OBJECT_PDG
from .collection import Collection
from .flavour import label_flavour
from .isolation import cone_sums
from .jets import cluster_jets
from .kinematics import delta_r2
from .met import transverse_sum

__all__ = [
    "CONTENT_DR",
    "DRESSED_KINDS",
    "DRESSING_PHOTONS",
    "DRESSING_DR",
    "dressed",
    "FLAVOUR_DR",
    "FLAVOUR_HADRON_PT_MIN",
    "ACTIVITY_DR",
    "HT_JET_PT_MIN",
    "INVISIBLE_PDG",
    "PROMPT_CONTENT",
    "TRUTH_ISO_DR",
    "TRUTH_JET_PT_MIN",
    "TRUTH_JET_R",
    "TRUTH_OBJECT_PT_MIN",
    "flavour_hadrons",
    "truth_arrays",
    "gen_jets",
    "gen_met",
    "is_hadron",
    "jet_activity",
    "JET_SURROUNDINGS",
    "jet_surroundings",
    "lepton_dressing",
    "NEIGHBOUR_INPUTS",
    "neighbour_context",
    "prompt_collections",
    "PROMPT_NEIGHBOURS",
    "prompt_content",
    "prompt_isolation",
    "PROMPT_OBJECTS",
    "prompt_objects",
    "prompt_particles",
    "relate_jets_and_prompt",
    "stable_particles",
    "truth_objects",
    "visible_particles",
]

TRUTH_JET_R = 0.4
TRUTH_JET_PT_MIN = 10.0
TRUTH_OBJECT_PT_MIN = 5.0
TRUTH_ISO_DR = 0.4
CONTENT_DR = 0.4
#: Jet content column → kinds of prompt objects it sums.
PROMPT_CONTENT = {"muon_frac": ("muon",), "em_frac": ("electron", "photon")}
#: Prompt-neighbour column of electrons, muons and photons → kinds of the other prompt objects
#: it sums (within CONTENT_DR), see :func:`prompt_isolation`.
PROMPT_NEIGHBOURS = {"em_iso": ("electron", "photon"), "muon_iso": ("muon",)}
#: Cone (Delta R) of the leptons' ``dressing``: NanoAOD's GenDressedLepton's.
DRESSING_DR = 0.1
#: Kinds of the prompt objects that carry ``dressing``.
DRESSED_KINDS = ("electron", "muon")
FLAVOUR_HADRON_PT_MIN = 5.0
FLAVOUR_DR = 0.3
HT_JET_PT_MIN = 20.0
#: Cone (Delta R) of the jets' ``activity`` input.
ACTIVITY_DR = 1.0
#: Names of the e/μ/γ inputs from the GenJets around them, see :func:`jet_surroundings`.
JET_SURROUNDINGS = ("jet_iso", "nb_jet_dr", "nb_jet_ratio")
#: The prompt objects: kind → (|PDG id|, pT above which, GeV), for :func:`prompt_particles`.
PROMPT_OBJECTS = {kind: (pdg, TRUTH_OBJECT_PT_MIN) for kind, pdg in OBJECT_PDG.items()}
#: ... and the prompt photons of any pT, which dress the leptons (:func:`lepton_dressing`).
DRESSING_PHOTONS = {"dressing_photons": (OBJECT_PDG["photon"], 0.0)}
#: Names of the jets' neighbourhood inputs, see :func:`neighbour_context`.
NEIGHBOUR_INPUTS = ("dr_nearest", "nb_pt_ratio", "activity")
#: |PDG id| of particles no detector sees: neutrinos and the lightest neutralino.
INVISIBLE_PDG = (12, 14, 16, 1000022)
_PARTICLE_COLUMNS = ("pt", "eta", "phi", "mass", "pid", "charge")


@numba.njit(cache=True)
def is_hadron(pid):
    """Meson or baryon: both of the last two quark digits of the PDG id are set (numba-compiled,
    one scalar PDG id; callable from Python and from other numba functions)."""
    a = abs(pid)
    return (a // 100) % 10 != 0 and (a // 10) % 10 != 0


@numba.njit(cache=True)
def _heavy_flavour(pid):
    """5 for b hadrons, 4 for c hadrons (without b), 0 otherwise."""
    if not is_hadron(pid):
        return 0
    a = abs(pid)
    quarks = ((a // 1000) % 10, (a // 100) % 10, (a // 10) % 10)
    if 5 in quarks:
        return 5
    if 4 in quarks:
        return 4
    return 0


@numba.njit(cache=True)
def _from_hadron(offsets, event, rows, pid, mother1):
    """True for rows with a non-beam hadron among their first-mother ancestors."""
    out = np.zeros(len(rows), dtype=np.bool_)
    for k in range(len(rows)):
        start = offsets[event[rows[k]]]
        j = mother1[rows[k]]
        for _ in range(100_000):
            if j < 0:
                break
            up = mother1[start + j]
            if up >= 0 and is_hadron(pid[start + j]):
                out[k] = True
                break
            if up == j:
                break
            j = up
    return out


@numba.njit(cache=True)
def _last_heavy(offsets, event, pid, mother1):
    """Flavour (5 or 4) of the last b / c hadron of each decay chain, 0 for all other rows.

    A heavy hadron is not the last one when a row whose first mother it is has its flavour.
    """
    flavour = np.zeros(len(pid), dtype=np.int8)
    for r in range(len(pid)):
        flavour[r] = _heavy_flavour(pid[r])
    last = flavour.copy()
    for r in range(len(pid)):
        m = mother1[r]
        if flavour[r] > 0 and m >= 0:
            g = offsets[event[r]] + m
            if flavour[g] == flavour[r]:
                last[g] = 0
    return last


@numba.njit(cache=True, parallel=True)
def _neighbours(offsets, pt, eta, phi, alone, activity_dr):
    nearest = np.full(len(eta), alone)
    ratio = np.zeros(len(eta))
    activity = np.zeros(len(eta))
    r2_activity = activity_dr * activity_dr
    for event in numba.prange(len(offsets) - 1):
        for i in range(offsets[event], offsets[event + 1]):
            best, best_pt, around = alone * alone, 0.0, 0.0
            for j in range(offsets[event], offsets[event + 1]):
                if j != i:
                    d2 = delta_r2(eta[i], phi[i], eta[j], phi[j])
                    if d2 < best:
                        best, best_pt = d2, pt[j]
                    if d2 < r2_activity:
                        around += pt[j]
            nearest[i] = np.sqrt(best)
            ratio[i] = best_pt / pt[i]
            activity[i] = around / pt[i]
    return nearest, ratio, activity


@numba.njit(cache=True)
def _jet_surroundings(obj_offsets, obj_pt, obj_eta, obj_phi, jet_offsets, jet_pt, jet_eta,
                      jet_phi, own_dr, alone):  # fmt: skip
    iso = np.zeros(len(obj_pt))
    dr = np.full(len(obj_pt), alone)
    ratio = np.zeros(len(obj_pt))
    for event in range(len(obj_offsets) - 1):
        for i in range(obj_offsets[event], obj_offsets[event + 1]):
            # the closest and the second closest GenJet (first found wins a tie)
            d1, j1, d2nd, j2 = np.inf, -1, np.inf, -1
            for j in range(jet_offsets[event], jet_offsets[event + 1]):
                d2 = delta_r2(obj_eta[i], obj_phi[i], jet_eta[j], jet_phi[j])
                if d2 < d1:
                    d2nd, j2, d1, j1 = d1, j1, d2, j
                elif d2 < d2nd:
                    d2nd, j2 = d2, j
            if j1 >= 0 and d1 < own_dr * own_dr:  # the object's own GenJet: jet_iso
                iso[i] = max(jet_pt[j1] - obj_pt[i], 0.0) / obj_pt[i]
                d1, j1 = d2nd, j2  # the neighbour is the next one
            if j1 >= 0 and d1 < alone * alone:
                dr[i] = np.sqrt(d1)
                ratio[i] = jet_pt[j1] / obj_pt[i]
    return iso, dr, ratio


def jet_surroundings(objects: Collection, jets: Collection, *, alone: float = 10.0
                     ) -> dict[str, np.ndarray]:
    """``jet_iso``, ``nb_jet_dr`` and ``nb_jet_ratio`` (see the module docstring) of each object
    from the GenJets of its event (pt GeV, eta, phi), in one pass over them: the object's own
    GenJet (the closest within :data:`CONTENT_DR`) makes ``jet_iso``, the closest other one the
    neighbour; ``alone`` is the ΔR of an object with no other GenJet. ``ValueError`` for a GenJet
    with a NaN/inf pT, η or φ (it would silently count as no jet)."""
    if objects.n_events != jets.n_events:
        raise ValueError(f"objects have {objects.n_events} events, jets {jets.n_events}")
    bad = sum(int(np.count_nonzero(~np.isfinite(jets[c]))) for c in ("pt", "eta", "phi"))
    if bad:
        raise ValueError(f"GenJets hold {bad} NaN/inf pt/eta/phi value(s): jet_iso, nb_jet_dr "
                         "and nb_jet_ratio would be undefined")
    values = _jet_surroundings(
        objects.offsets, objects["pt"], objects["eta"], objects["phi"],
        jets.offsets, jets["pt"], jets["eta"], jets["phi"], CONTENT_DR, alone,
    )  # fmt: skip
    return dict(zip(JET_SURROUNDINGS, values, strict=True))


def stable_particles(record: Collection) -> Collection:
    """Final-state particles (columns pt, eta, phi, mass, pid, charge): the detector input."""
    return record.select(record["final"], _PARTICLE_COLUMNS)


def visible_particles(record: Collection) -> Collection:
    """Final-state particles except the invisible ones (columns pt, eta, phi, mass, pid, charge
    and ``uid`` = row in the record)."""
    rows = record.with_columns(uid=np.arange(len(record), dtype=np.int64))
    keep = rows["final"] & ~np.isin(np.abs(rows["pid"]), INVISIBLE_PDG)
    return rows.select(keep, (*_PARTICLE_COLUMNS, "uid"))


def flavour_hadrons(record: Collection) -> Collection:
    """Last b and c hadrons of each decay chain with pT > 5 GeV: pt, eta, phi, ``flavour``."""
    flavour = _last_heavy(record.offsets, record.event_index, record["pid"], record["mother1"])
    return record.with_columns(flavour=flavour).select(
        (flavour > 0) & (record["pt"] > FLAVOUR_HADRON_PT_MIN), ("pt", "eta", "phi", "flavour")
    )


def gen_jets(visible: Collection, hadrons: Collection) -> Collection:
    """GenJets of the visible final-state particles (see the module docstring)."""
    jets = cluster_jets(visible, algorithm="antikt", r=TRUTH_JET_R, pt_min=TRUTH_JET_PT_MIN)
    return jets.with_columns(
        hadronFlavour=label_flavour(jets, hadrons, dr_max=FLAVOUR_DR),
        **neighbour_context(jets),
    )


def neighbour_context(jets: Collection, *, alone: float = 10.0) -> dict[str, np.ndarray]:
    """Each jet's neighbourhood among the jets of its event (columns pt GeV, eta, phi):
    ``dr_nearest`` (Delta R to the closest other jet, ``alone`` if none), ``nb_pt_ratio`` (that
    jet's pT over this one's, 0 if none) and ``activity`` (summed pT of the other jets within
    :data:`ACTIVITY_DR`, over this jet's pT)."""
    nearest, ratio, activity = _neighbours(
        jets.offsets, jets["pt"], jets["eta"], jets["phi"], alone, ACTIVITY_DR
    )
    return {"dr_nearest": nearest, "nb_pt_ratio": ratio, "activity": activity}


def _prompt(record: Collection, pdg: int, pt_min: float) -> np.ndarray:
    """Mask of the prompt final-state particles of |PDG id| ``pdg`` with pT > ``pt_min`` GeV."""
    candidates = record["final"] & (np.abs(record["pid"]) == pdg) & (record["pt"] > pt_min)
    rows = np.flatnonzero(candidates)
    prompt = np.zeros(len(record), dtype=bool)
    prompt[rows] = ~_from_hadron(
        record.offsets, record.event_index, rows, record["pid"], record["mother1"]
    )
    return prompt


def _prompt_masks(record: Collection, selections: Mapping[str, tuple[int, float]]
                  ) -> dict[str, np.ndarray]:
    """Masks of the prompt final-state particles by name, for ``selections``: name → (|PDG id|,
    pT above which, GeV); one ancestry walk per PDG id, at its lowest pT."""
    lowest: dict[int, float] = {}
    for pdg, pt_min in selections.values():
        lowest[pdg] = min(pt_min, lowest.get(pdg, np.inf))
    walked = {pdg: _prompt(record, pdg, pt_min) for pdg, pt_min in lowest.items()}
    return {name: walked[pdg] & (record["pt"] > pt_min)
            for name, (pdg, pt_min) in selections.items()}


def prompt_particles(record: Collection, selections: Mapping[str, tuple[int, float]]
                     ) -> dict[str, Collection]:
    """The prompt final-state particles (pt GeV, eta, phi) by name, for ``selections``: name →
    (|PDG id|, pT above which, GeV), e.g. :data:`PROMPT_OBJECTS` and :data:`DRESSING_PHOTONS`."""
    return {name: record.select(mask, ("pt", "eta", "phi"))
            for name, mask in _prompt_masks(record, selections).items()}


def lepton_dressing(leptons: Collection, photons: Collection) -> np.ndarray:
    """``dressing`` of each lepton (see the module docstring) from the prompt photons of any pT
    of the same events (pt GeV, eta, phi): their pT within :data:`DRESSING_DR` over the lepton's."""
    return cone_sums(leptons, photons, dr_max=DRESSING_DR, pt_min=0.0) / leptons["pt"]


def prompt_objects(record: Collection, visible: Collection, pdg: int) -> Collection:
    """Prompt final-state particles of |PDG id| ``pdg`` with pT > 5 GeV (columns pt, eta, phi,
    mass, pdgId, charge, iso)."""
    return _objects(record, visible, _prompt(record, pdg, TRUTH_OBJECT_PT_MIN))


def _objects(record: Collection, visible: Collection, rows: np.ndarray) -> Collection:
    """The particles of ``record`` where the mask ``rows`` holds, as prompt objects (columns pt,
    eta, phi, mass, pdgId, charge, iso from the ``visible`` particles of the same events)."""
    objects = record.with_columns(uid=np.arange(len(record), dtype=np.int64)).select(
        rows, (*_PARTICLE_COLUMNS, "uid")
    )
    sums = cone_sums(
        objects, visible, dr_max=TRUTH_ISO_DR, pt_min=0.0, exclude=(objects["uid"], visible["uid"])
    )
    columns = {c: objects[c] for c in ("pt", "eta", "phi", "mass")}
    columns.update(pdgId=objects["pid"], charge=objects["charge"], iso=sums / objects["pt"])
    return Collection(objects.offsets, columns)


def dressed(prompt: Mapping[str, Collection], photons: Collection) -> dict[str, Collection]:
    """``prompt`` (prompt objects by kind) with the ``dressing`` of the :data:`DRESSED_KINDS`
    among them, from the prompt photons of any pT of the same events (pt GeV, eta, phi)."""
    return {
        kind: objects.with_columns(dressing=lepton_dressing(objects, photons))
        if kind in DRESSED_KINDS else objects
        for kind, objects in prompt.items()
    }  # fmt: skip


def prompt_content(jets: Collection, prompt: Mapping[str, Collection]) -> dict[str, np.ndarray]:
    """``muon_frac`` and ``em_frac`` of each jet (see the module docstring) from the prompt
    objects of the same events by kind (``electron``, ``muon``, ``photon``; pt, eta, phi)."""
    out = {}
    for name, kinds in PROMPT_CONTENT.items():
        total = np.zeros(len(jets))
        for kind in kinds:
            total += cone_sums(jets, prompt[kind], dr_max=CONTENT_DR, pt_min=0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[name] = np.minimum(total / jets["pt"], 1.0)
    return out


def prompt_isolation(
    objects: Collection, kind: str, prompt: Mapping[str, Collection]
) -> dict[str, np.ndarray]:
    """``em_iso`` and ``muon_iso`` (see the module docstring) of ``objects``, the prompt objects
    of ``kind`` of the same events as ``prompt`` (prompt objects by kind; pt GeV, eta, phi).

    ``objects`` must be ``prompt[kind]`` row for row (the same selection): an object never counts
    itself. ``ValueError`` when their counts per event differ.
    """
    own = prompt[kind]
    if not np.array_equal(objects.counts, own.counts):
        raise ValueError(
            f"the {kind} objects are not the prompt {kind}s of the record: em_iso/muon_iso need "
            "the same selection (prompt, status 1, pT > 5 GeV)"
        )
    rows = np.arange(len(objects), dtype=np.int64)
    out = {}
    for name, kinds in PROMPT_NEIGHBOURS.items():
        total = np.zeros(len(objects))
        for other in kinds:
            exclude = (rows, rows) if other == kind else None
            total += cone_sums(objects, prompt[other], dr_max=CONTENT_DR, pt_min=0.0,
                               exclude=exclude)
        out[name] = total / objects["pt"]
    return out


def prompt_collections(record: Collection, visible: Collection) -> dict[str, Collection]:
    """The prompt objects of a record by kind (``electron``, ``muon``, ``photon``; electrons and
    muons with their ``dressing``)."""
    masks = _prompt_masks(record, {**PROMPT_OBJECTS, **DRESSING_PHOTONS})
    prompt = {kind: _objects(record, visible, masks[kind]) for kind in PROMPT_OBJECTS}
    return dressed(prompt, record.select(masks["dressing_photons"], ("pt", "eta", "phi")))


def relate_jets_and_prompt(
    jets: Collection, prompt: Mapping[str, Collection]
) -> dict[str, Collection]:
    """``{"jet": jets with muon_frac, em_frac; kind: prompt objects with jet_iso, nb_jet_dr,
    nb_jet_ratio, em_iso, muon_iso}``: the truth inputs that relate the GenJets and the prompt
    objects of the same events."""
    related = {"jet": jets.with_columns(**prompt_content(jets, prompt))}
    for kind, objects in prompt.items():
        related[kind] = objects.with_columns(
            **jet_surroundings(objects, jets), **prompt_isolation(objects, kind, prompt)
        )
    return related


def jet_activity(jets: Collection) -> tuple[np.ndarray, np.ndarray]:
    """(HT in GeV, number of jets) per event, from the jets with pT > 20 GeV."""
    hard = jets.select(jets["pt"] > HT_JET_PT_MIN)
    return np.bincount(hard.event_index, weights=hard["pt"], minlength=jets.n_events), hard.counts


def gen_met(record: Collection, jets: Collection) -> Collection:
    """One row per event: GenMET ``pt`` (GeV), ``phi`` from the neutrinos; ``ht`` (GeV) and
    ``njet`` of the GenJets (:func:`jet_activity`)."""
    invisible = record.select(
        record["final"] & np.isin(np.abs(record["pid"]), INVISIBLE_PDG), ("pt", "phi")
    )
    px, py = transverse_sum(invisible)
    ht, njet = jet_activity(jets)
    return Collection.one_per_event(
        {"pt": np.hypot(px, py), "phi": np.arctan2(py, px), "ht": ht, "njet": njet}
    )


def truth_objects(record: Collection, hadrons: Collection | None = None) -> dict[str, Collection]:
    """All truth objects of a record: ``{"jet", "electron", "muon", "photon", "met"}``.

    ``hadrons`` defaults to :func:`flavour_hadrons` of the record.
    """
    if hadrons is None:
        hadrons = flavour_hadrons(record)
    visible = visible_particles(record)
    jets = gen_jets(visible, hadrons)
    truth = relate_jets_and_prompt(jets, prompt_collections(record, visible))
    truth["met"] = gen_met(record, jets)
    return truth


def truth_arrays(truth: Mapping[str, Collection]) -> dict[str, ak.Array]:
    """Awkward truth collections by kind: jagged records, MET one record per event."""
    arrays = {}
    for kind, collection in truth.items():
        if kind == "met":
            arrays[kind] = ak.zip(dict(collection.columns))
        else:
            arrays[kind] = collection.to_awkward()
    return arrays
