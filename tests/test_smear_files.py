"""``mlsmear smear``: files in, files out, the same numbers as ``mlsmear.smear_events``."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot
from coffea.nanoevents import DelphesSchema, NanoAODSchema
from coffea_support import file_events
from smear_file_support import assert_same, nano_events_of

import mlsmear
from mlsmear.cli import main
from mlsmear.smear_files import smear_files

DATA = Path(__file__).parent / "data"
NANO = DATA / "nano_tt_v12.root"
DELPHES = DATA / "delphes.root"
SEED = 3
COLLECTIONS = ("Jet", "Electron", "Muon", "Photon")


def _events(path: Path, schema, tree: str, **metadata):
    return file_events(path, schema, tree, metadata=metadata or None)


@pytest.fixture(scope="module")
def nano_reference():
    """``smear_events`` on the whole bundled NanoAOD file, in Python."""
    return mlsmear.smear_events(_events(NANO, NanoAODSchema, "Events"), seed=SEED)


@pytest.fixture(scope="module")
def nano_outputs(tmp_path_factory):
    """The bundled NanoAOD file smeared to ROOT (chunks of 70) and to parquet (one chunk)."""
    folder = tmp_path_factory.mktemp("smear")
    root, parquet = folder / "out.root", folder / "out.parquet"
    smear_files([NANO], root, seed=SEED, chunk=70, progress=False)
    smear_files([NANO], parquet, seed=SEED, chunk=500, progress=False)
    return root, parquet


def test_root_output_equals_smear_events(nano_reference, nano_outputs):
    """Every field smear_events produces is in the file under NanoAOD names, value for value."""
    tree = uproot.open(nano_outputs[0])["Events"]
    assert tree.classname == "TTree"
    read, branches = tree.arrays(), set(tree.keys())
    for name in ("run", "luminosityBlock", "event"):
        assert_same(read[name], nano_reference[name], name)
        assert read[name].type.content == nano_reference[name].type.content
    written = 0
    for collection in COLLECTIONS:
        assert f"n{collection}" in branches
        ref = nano_reference[collection]
        for field in ref.fields:
            branch = f"{collection}_{field}"
            if field.endswith("IdxG") or branch in NanoAODSchema.full_like_items:
                assert branch not in branches  # coffea derives these itself
                continue
            assert_same(read[branch], ref[field], branch)
            written += 1
    assert written >= 4 * 5
    for field in nano_reference.MET.fields:
        assert_same(read[f"MET_{field}"], nano_reference.MET[field], f"MET_{field}")
    # the file's truth copied unchanged (so genJetIdx resolves)
    original = uproot.open(NANO)["Events"]
    assert_same(read.GenJet_pt, original["GenJet_pt"].array(), "GenJet_pt")


def test_coffea_reads_the_output(nano_reference, nano_outputs):
    """NanoAODSchema on the written ROOT and parquet files gives smear_events' collections,
    with working truth links."""
    for path in nano_outputs:
        events = nano_events_of(path)
        for collection in COLLECTIONS:
            for field in ("pt", "eta", "phi", "mass"):
                assert_same(events[collection][field], nano_reference[collection][field],
                             f"{path.suffix} {collection}.{field}")
        assert_same(events.MET.pt, nano_reference.MET.pt, "MET.pt")
        assert_same(events.Jet.matched_gen.pt, nano_reference.Jet.matched_gen.pt, "matched_gen")


def test_chunking_does_not_change_the_output(nano_outputs):
    """70-event chunks (ROOT) and one chunk (parquet): the same columns, the same values."""
    root = uproot.open(nano_outputs[0])["Events"].arrays()
    parquet = ak.from_parquet(nano_outputs[1])
    assert set(root.fields) == set(parquet.fields)
    for name in root.fields:
        assert_same(root[name], parquet[name], name)


def test_delphes_input(tmp_path):
    """Delphes in: NanoAOD names out (MissingET -> MET_pt), the Runner's file key, the same
    numbers as smear_events on the file's events."""
    out = tmp_path / "delphes.parquet"
    smear_files([DELPHES], out, seed=SEED, chunk=10, progress=False)
    read = ak.from_parquet(out)
    uuid = str(uproot.open(DELPHES).file.uuid)
    reference = mlsmear.smear_events(
        _events(DELPHES, DelphesSchema, "Delphes", fileuuid=uuid), seed=SEED
    )
    assert_same(read.event, reference.Event.Number, "event")
    assert_same(read.Jet_pt, reference.Jet.PT, "Jet_pt")
    assert_same(read.Electron_charge, reference.Electron.Charge, "Electron_charge")
    assert_same(read.MET_pt, reference.MissingET.MET, "MET_pt")
    assert "Jet_PT" not in read.fields and "MET_eta" not in read.fields


def test_failure_leaves_no_file(tmp_path):
    """A run that fails half-way (second input has no GenJet) leaves neither output nor temp."""
    broken = tmp_path / "no_truth.root"
    with uproot.recreate(broken) as file:
        n = np.arange(5)
        file.mktree("Events", {"run": n.astype(np.uint32), "luminosityBlock": n.astype(np.uint32),
                               "event": n.astype(np.uint64)}).extend(
            {"run": n.astype(np.uint32), "luminosityBlock": n.astype(np.uint32),
             "event": n.astype(np.uint64)}
        )
    out = tmp_path / "out.root"
    with pytest.raises(ValueError, match="GenJet"):
        smear_files([NANO, broken], out, progress=False, kinds=["jet"])
    assert list(tmp_path.iterdir()) == [broken]


def test_cli_errors_speak_cli(tmp_path, capsys):
    """Unreadable inputs and an existing output: exit status 2, one line naming the file."""
    text = tmp_path / "notes.txt"
    text.write_text("not ROOT")
    existing = tmp_path / "out.root"
    existing.write_bytes(b"")
    cases = [
        ([str(tmp_path / "missing.root")], "does not exist"),
        ([str(text)], "cannot read input"),
        ([str(NANO), "--output", str(existing)], "--overwrite"),
        ([str(NANO), "--output", str(tmp_path / "out.csv")], ".root or .parquet"),
        ([str(NANO), "--kinds", "tau"], "invalid choice"),
    ]
    for argv, message in cases:
        if "--output" not in argv:
            argv = [*argv, "--output", str(tmp_path / "new.root")]
        try:
            status = main(["smear", *argv])
        except SystemExit as exit_:  # argparse's own errors
            status = exit_.code
        err = capsys.readouterr().err
        assert status == 2 and message in err, (argv, err)
        assert "=True" not in err and "Traceback" not in err
    assert not (tmp_path / "new.root").exists()


def test_rdataframe_reads_the_output(nano_outputs):
    """ROOT's RDataFrame reads the uproot-written TTree: counts, jagged sums, identity."""
    ROOT = pytest.importorskip("ROOT")
    frame = ROOT.RDataFrame("Events", str(nano_outputs[0]))
    columns = frame.Define("sum_pt", "Sum(Jet_pt)").AsNumpy(["sum_pt", "nJet", "event", "MET_pt"])
    read = uproot.open(nano_outputs[0])["Events"].arrays()
    np.testing.assert_array_equal(columns["event"], ak.to_numpy(read.event))
    np.testing.assert_array_equal(columns["nJet"], ak.to_numpy(read.nJet))
    np.testing.assert_array_equal(columns["MET_pt"], ak.to_numpy(read.MET_pt))
    np.testing.assert_allclose(columns["sum_pt"], ak.to_numpy(ak.sum(read.Jet_pt, axis=1)),
                               rtol=1e-12)
