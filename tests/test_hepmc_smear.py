"""``mlsmear smear`` on HepMC truth: a real Pythia 8 ttbar sample written as HepMC3, smeared with
the shipped model, read back with uproot and coffea, against ``mlsmear.smear`` in Python."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import awkward as ak
import numpy as np
import pyhepmc
import pytest
import uproot
from smear_file_support import assert_same, nano_events_of, read_output

import mlsmear
from mlsmear.cli import main
from mlsmear.generate.pythia import PROCESSES, PythiaGenerator, pythia_seed
from mlsmear.hepmc_record import HepMCWriter, record_from_events, record_to_event
from mlsmear.physics.truth import truth_arrays, truth_objects
from mlsmear.readers.hepmc import event_blocks, open_hepmc
from mlsmear.smear_files import smear_files
from mlsmear.whole_event import smear_event

N_EVENTS = 120
FIRST_NUMBER = 5000  # HepMC event numbers of the sample: 5000, 5001, ...
SEED = 11
MODEL = "atlas-like"
SMEARED = ("Jet", "Electron", "Muon", "Photon")
TRUTH = ("GenJet", "GenPart")
PDG = {"Electron": 11, "Muon": 13, "Photon": 22}


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    """120 Pythia 8 ttbar events as HepMC3 ASCII, numbered from 5000."""
    record = PythiaGenerator(PROCESSES["ttbar"][0][0].settings, pythia_seed([SEED, 0])).generate(
        N_EVENTS
    )
    path = tmp_path_factory.mktemp("hepmc") / "ttbar.hepmc"
    with HepMCWriter(path, run_attributes={}, tool=("test", "0", "ttbar sample")) as writer:
        for event in range(N_EVENTS):
            writer.write(record_to_event(record, event, FIRST_NUMBER + event), {})
    return path


@pytest.fixture(scope="module")
def reference(sample):
    """The sample smeared in Python: truth as ``generate`` makes it, ``mlsmear.smear`` per kind
    and ``smear_event`` for MET, keyed on the HepMC numbers and the file's sample id."""
    with pyhepmc.open(sample) as source:
        events = list(source)
    numbers = np.asarray([e.event_number for e in events])
    truth = truth_arrays(truth_objects(record_from_events(events)))
    bundle = mlsmear.load(MODEL)
    options = dict(seed=SEED, event_id=numbers, sample_id=open_hepmc(sample).sample_id)
    reco = {
        kind: mlsmear.smear(truth[kind], model=bundle[kind], kind=kind, **options)
        for kind in ("jet", "electron", "muon", "photon")
    }
    reco["met"] = smear_event(truth, bundle=bundle, kinds=["met"], **options)["met"]
    return numbers, truth, reco


@pytest.fixture(scope="module")
def outputs(sample, tmp_path_factory):
    """The sample smeared to ROOT in chunks of 40 (one worker) and to parquet in chunks of 13
    (two workers)."""
    folder = tmp_path_factory.mktemp("smeared")
    root, parquet = folder / "out.root", folder / "out.parquet"
    smear_files([sample], root, model=MODEL, seed=SEED, chunk=40, progress=False)
    smear_files([sample], parquet, model=MODEL, seed=SEED, chunk=13, workers=2, progress=False)
    return root, parquet


def test_root_output(outputs, reference):
    """Identity, NanoAOD names, the values of mlsmear.smear, the truth, links that resolve."""
    numbers, truth, reco = reference
    tree = uproot.open(outputs[0])["Events"]
    assert tree.classname == "TTree" and tree.num_entries == N_EVENTS
    read = tree.arrays()
    np.testing.assert_array_equal(read.event, FIRST_NUMBER + np.arange(N_EVENTS))
    np.testing.assert_array_equal(read.event, numbers)
    assert not np.any(read.run) and not np.any(read.luminosityBlock)
    np.testing.assert_array_equal(read.genWeight, np.ones(N_EVENTS))
    branches = set(tree.keys())
    assert {"nJet", "Jet_pt", "Jet_eta", "Jet_phi", "Jet_mass", "Jet_btagDeepFlavB",
            "Jet_genJetIdx", "nElectron", "Electron_charge", "Electron_pdgId",
            "Electron_genPartIdx", "nMuon", "Muon_genPartIdx", "nPhoton", "Photon_genPartIdx",
            "MET_pt", "MET_phi", "nGenJet", "GenJet_hadronFlavour", "GenJet_dr_nearest",
            "GenJet_nb_pt_ratio", "GenJet_activity", "nGenPart", "GenPart_pdgId",
            "GenPart_status", "GenPart_eta", "GenPart_em_iso", "GenMET_pt",
            "GenMET_phi"} <= branches
    # what coffea derives itself is not written (as for NanoAOD input)
    assert not {"Jet_charge", "Photon_mass", "Jet_genJetIdxG", "MET_eta"} & branches
    for name, kind in zip(SMEARED, ("jet", "electron", "muon", "photon"), strict=True):
        for field in ("pt", "eta", "phi"):
            assert_same(read[f"{name}_{field}"], reco[kind][field], f"{name}_{field}")
        link = "genJetIdx" if name == "Jet" else "genPartIdx"
        source = "GenJet" if name == "Jet" else "GenPart"
        linked = read[f"{source}_pt"][read[f"{name}_{link}"]]
        assert_same(linked, truth[kind].pt[reco[kind].truth_index], f"{name}.{link}")
        if name in PDG:
            pdg = read.GenPart_pdgId[read[f"{name}_{link}"]]
            assert ak.all(abs(pdg) == PDG[name]), name
    assert ak.sum(read.nJet) > 3 * N_EVENTS and ak.sum(read.nElectron) + ak.sum(read.nMuon) > 20
    assert_same(read.MET_pt, reco["met"].pt, "MET_pt")
    assert_same(read.GenJet_pt, truth["jet"].pt, "GenJet_pt")
    assert_same(read.GenJet_dr_nearest, truth["jet"].dr_nearest, "GenJet_dr_nearest")
    assert_same(read.GenMET_pt, truth["met"].pt, "GenMET_pt")
    n_prompt = sum(ak.num(truth[k]) for k in ("electron", "muon", "photon"))
    assert_same(read.nGenPart, n_prompt, "nGenPart")


def test_coffea_reads_the_output(outputs, reference):
    """NanoAODSchema reads both files: the smeared values, .matched_gen into GenJet / GenPart."""
    numbers, truth, reco = reference
    for path in outputs:
        events = nano_events_of(path)
        assert len(events) == N_EVENTS
        np.testing.assert_array_equal(events.event, numbers)
        assert_same(events.Jet.pt, reco["jet"].pt, f"{path.suffix} Jet.pt")
        assert_same(events.Jet.matched_gen.pt, truth["jet"].pt[reco["jet"].truth_index],
                     f"{path.suffix} Jet.matched_gen")
        for name in ("Electron", "Muon"):
            assert ak.all(abs(events[name].matched_gen.pdgId) == PDG[name])
        assert_same(events.MET.pt, reco["met"].pt, f"{path.suffix} MET.pt")


def test_chunks_workers_and_compression(outputs, sample, tmp_path):
    """Chunks of 40 (ROOT), of 13 with two workers (parquet) and one chunk of a gzipped copy under
    another name: the same columns, the same values."""
    packed = tmp_path / "renamed.hepmc.gz"
    with open(sample, "rb") as plain, gzip.open(packed, "wb") as compressed:
        shutil.copyfileobj(plain, compressed)
    assert open_hepmc(packed).sample_id == open_hepmc(sample).sample_id
    whole = tmp_path / "whole.parquet"
    summary = smear_files([packed], whole, model=MODEL, seed=SEED, chunk=1000, progress=False)
    assert summary["events"] == N_EVENTS
    root = read_output(outputs[0])
    for other in (read_output(outputs[1]), read_output(whole)):
        assert set(other.fields) == set(root.fields)
        for name in root.fields:
            assert_same(other[name], root[name], name)


def test_blocks_cut_the_file_exactly(sample):
    """Blocks of 50 hold events 0-49, 50-99, 100-119, each parsing on its own."""
    blocks = list(event_blocks(sample, 50))
    assert [(b.start, b.n_events) for b in blocks] == [(0, 50), (50, 50), (100, 20)]
    np.testing.assert_array_equal(
        np.concatenate([b.truth().numbers for b in blocks]), FIRST_NUMBER + np.arange(N_EVENTS)
    )


def test_files_differ_in_their_random_numbers(sample, tmp_path):
    """A second file with the same events and numbers but another first event (the sample's first
    event moved to its end) is another sample: the same truth of event 5001 gives other reco."""
    with pyhepmc.open(sample) as source:
        events = list(source)
    other = tmp_path / "rotated.hepmc"
    with pyhepmc.open(other, "w") as out:
        for event in events[1:31] + events[:1]:
            out.write(event)
    assert open_hepmc(other).sample_id != open_hepmc(sample).sample_id
    out = tmp_path / "both.root"
    smear_files([sample, other], out, model=MODEL, seed=SEED, kinds=["jet"], progress=False)
    read = read_output(out)
    numbers = FIRST_NUMBER + np.arange(N_EVENTS)
    expected = np.concatenate([numbers, numbers[1:31], numbers[:1]])
    np.testing.assert_array_equal(read.event, expected)
    first, second = 1, N_EVENTS  # event 5001 in each file
    assert read.event[first] == read.event[second] == FIRST_NUMBER + 1
    assert ak.to_list(read.GenJet_pt[first]) == ak.to_list(read.GenJet_pt[second])
    assert ak.to_list(read.Jet_pt[first]) != ak.to_list(read.Jet_pt[second])


def _truncated(sample: Path, directory: Path, keep: float) -> Path:
    data = sample.read_bytes()
    broken = directory / "truncated.hepmc"
    broken.write_bytes(data[: int(len(data) * keep)])
    return broken


def test_failure_leaves_no_file(sample, tmp_path):
    """A second input cut in the middle of an event: chunks of the first were written, then the
    error names the file and event, and neither the output nor its temporary file is left."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    broken = _truncated(sample, inputs, 0.5)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ValueError, match=r"truncated\.hepmc: event \d+ .* corrupt or truncated"):
        smear_files([sample, broken], out / "smeared.root", model=MODEL, chunk=25,
                    kinds=["jet"], progress=False)
    assert list(out.iterdir()) == []


def test_cli_errors(sample, tmp_path, capsys):
    """Unreadable, empty and corrupt HepMC inputs: exit status 2, one line naming the file."""
    data = sample.read_bytes()
    first, second = data.find(b"\nE "), data.find(b"\nE ", data.find(b"\nE ") + 1)
    cases = {
        "empty.hepmc": (b"", "is empty"),
        "header.hepmc": (data[: first + 1], "holds no HepMC events"),
        "text.hepmc": (b"not a HepMC file\n", "is not HepMC3 or HepMC2 ASCII"),
        "corrupt.hepmc": (data[: (first + second) // 2] + b"P 1 x y\n" + data[second:],
                          "event 0 (counting from 0) does not parse as HepMC"),
        "damaged.hepmc.gz": (gzip.compress(data)[:-4096], "cannot read input"),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        status = main(["smear", str(path), "--output", str(tmp_path / "new.root"),
                       "--model", MODEL, "--no-progress"])
        err = capsys.readouterr().err
        assert status == 2 and message in err and name in err, (name, err)
        assert "Traceback" not in err
    assert not list(tmp_path.glob("*new.root*"))


def test_gen_part_is_one_record_type():
    """The leptons carry ``dressing``, the photons do not: ``GenPart`` keeps the fields the three
    kinds share, one record type (a union of records would hide every field but those)."""
    from mlsmear.hepmc_smear import truth_collections

    record = PythiaGenerator(PROCESSES["ttbar"][0][0].settings, pythia_seed([SEED, 1])).generate(20)
    objects = truth_arrays(truth_objects(record))
    assert "dressing" in objects["electron"].fields and "dressing" not in objects["photon"].fields
    gen_part = truth_collections(objects)[0]["GenPart"]
    assert "union" not in str(gen_part.type)
    assert {"pt", "eta", "phi", "pdgId", "em_iso", "status"} <= set(gen_part.fields)
