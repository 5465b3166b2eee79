"""The generation-stage filter: selection language, margin, HepMC output and input, summary,
error paths (no output left behind) and determinism. Small Pythia runs with the tiny bundle."""

from __future__ import annotations

import json
import warnings

import awkward as ak
import numpy as np
import pyhepmc
import pytest
import vector

import mlsmear
from mlsmear import cli
from mlsmear import hepmc_record as hepmc_module
from mlsmear.filter import Selection, pipeline, run_filter, scale_momenta
from mlsmear.filter.reference import wilson_interval
from mlsmear.generate.pythia import PROCESSES, PythiaGenerator, pythia_seed
from mlsmear.physics.truth import flavour_hadrons, truth_arrays, truth_objects
from mlsmear.readers.hepmc import open_hepmc
from mlsmear.whole_event import smear_event

# The tiny bundle is trained on a toy: Pythia truth lies partly outside its range.
pytestmark = pytest.mark.filterwarnings("ignore::mlsmear.OutOfRangeWarning")

N_EVENTS = 150
SEED = 7
MARGIN = 0.1
SELECTION = "ak.sum(Jet.pt, axis=1) > 150 and MET.pt > 40"
SUMMARY_KEYS = {"generated", "kept", "keep_fraction", "seconds", "nn_overhead_fraction"}
VALIDATE_KEYS = {"signal_efficiency", "reference_pass_fraction", "fullsim_saving_factor"}


def _collections() -> dict[str, ak.Array]:
    behavior = vector.backends.awkward.behavior
    jets = ak.zip(
        {"pt": [[120.0, 40.0], [], [60.0]], "eta": [[0.1, 2.0], [], [-1.0]],
         "phi": [[0.0, 1.0], [], [2.0]], "mass": [[10.0, 5.0], [], [8.0]]},
        with_name="Momentum4D", behavior=behavior,
    )
    met = ak.zip({"pt": [300.0, 20.0, 260.0], "phi": [0.0, 1.0, 2.0]}, with_name="Momentum2D",
                 behavior=behavior)
    return {"Jet": jets, "MET": met}


# -- selection and margin (no generator) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("MET.pt > 250", [True, False, True]),
        ("ak.sum(Jet.pt, axis=1) > 100", [True, False, False]),
        ("MET.pt > 250 and ak.num(Jet) >= 2", [True, False, False]),
        ("not (MET.pt > 250) or ak.num(Jet, axis=1) == 1", [False, True, True]),
        ("100 < MET.pt <= 280", [False, False, True]),
        ("ak.max(Jet.pt, axis=1) > 50", [True, False, True]),  # no jets: None -> False
        ("ak.num(Jet[Jet.pt > 50]) == 1", [True, False, True]),
        ("ak.any(abs(Jet.eta) > 1.5, axis=1) | (MET.pt * 2 ** 2 > 1e3)", [True, False, True]),
    ],
)
def test_selection_expressions(text, expected):
    assert Selection.parse(text)(_collections(), 3).tolist() == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("__import__('os').system('true')", "not allowed"),
        ("Jet.__class__", "private attribute"),
        ("ak.to_numpy(MET.pt) > 1", "calling ak.to_numpy"),
        ("open('x')", "calling open"),
        ("MET.pt > 'a'", "constant"),
        ("ak.sum(Jet.pt, axis=Jet) > 1", "keyword"),
        ("[j for j in Jet]", "ListComp"),
        ("lambda: MET", "Lambda"),
        ("MET.pt >", "not a valid expression"),
        ("1 > 0", "uses no reco collection"),
        ("Tau.pt > 1", "the name 'Tau'"),
    ],
)
def test_selection_rejects(text, message):
    with pytest.raises(ValueError, match=message) as err:
        Selection.parse(text)
    if "not allowed" in str(err.value):
        assert "Allowed:" in str(err.value) and "ak.sum" in str(err.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Jet.pt > 30", "one value per object"),
        ("MET.pt + 1", "must give booleans"),
        ("MET.ptt > 1", "failed on the reco collections"),
    ],
)
def test_selection_result_checked(text, message):
    with pytest.raises(ValueError, match=message):
        Selection.parse(text)(_collections(), 3)


def test_wilson_interval():
    assert wilson_interval(0, 0) is None
    low, high = wilson_interval(6, 6)
    assert high == pytest.approx(1.0) and low == pytest.approx(6 / 7)  # centre 13/14 ± 1/14
    low, high = wilson_interval(900, 1000)
    assert low < 0.9 < high and high - low == pytest.approx(2 * np.sqrt(0.09 / 1000), rel=0.01)


def test_callable_selection_and_margin():
    reco = _collections()
    selection = Selection.from_callable(lambda r: r["MET"].pt > 250)
    assert selection.collections == {"Jet", "Electron", "Muon", "Photon", "MET"}
    assert selection(scale_momenta(reco, 0.2), 3).tolist() == [True, False, True]
    scaled = scale_momenta(reco, 0.25)
    assert ak.to_list(scaled["MET"].pt) == [375.0, 25.0, 325.0]
    assert ak.to_list(scaled["Jet"].eta) == ak.to_list(reco["Jet"].eta)
    energy = ak.flatten(reco["Jet"].energy)
    np.testing.assert_allclose(ak.flatten(scaled["Jet"].energy), 1.25 * energy)
    assert scale_momenta(reco, 0.0) == reco
    with pytest.raises(ValueError, match="margin"):
        run_filter("MET.pt > 1", "x.hepmc", process="ttbar", n_events=1, margin=-0.1)
    with pytest.raises(ValueError, match="needs validate"):
        run_filter("MET.pt > 1", "x.hepmc", process="ttbar", n_events=1, scan_margins=(0.1,))


# -- full runs ------------------------------------------------------------------------------------


def _mother_list(status: int, mother1: int, mother2: int) -> list[int]:
    """Pythia's Particle::motherList() (rows, -1 = none)."""
    a = abs(status)
    if a in (11, 12) or (mother1 < 0 and mother2 < 0):
        return []
    if mother2 < 0 or mother2 == mother1:
        return [mother1]
    if 80 < a < 90 or 100 < a < 107:
        return list(range(mother1, mother2 + 1))
    return sorted((mother1, mother2))


@pytest.fixture(scope="module")
def generator_record():
    """The Pythia record the filter runs below see (one job: Pythia seed of job 0)."""
    settings = PROCESSES["ttbar"][0][0].settings
    return PythiaGenerator(settings, pythia_seed([SEED, 0])).generate(N_EVENTS)


@pytest.fixture(scope="module")
def filtered(tmp_path_factory, tiny_bundle_dir):
    directory = tmp_path_factory.mktemp("filter")
    summary = run_filter(
        SELECTION, directory / "kept.hepmc", process="ttbar", n_events=N_EVENTS, seed=SEED,
        margin=MARGIN, model=tiny_bundle_dir, summary=directory / "summary.json", validate=True,
        scan_margins=(0.0, 0.3),
    )
    return directory, summary


def test_summary(filtered):
    directory, summary = filtered
    assert set(summary) >= SUMMARY_KEYS | VALIDATE_KEYS
    assert set(summary["seconds"]) >= {"generator", "truth", "nn", "writing"}
    assert summary["generated"] == N_EVENTS
    assert 0 < summary["kept"] < N_EVENTS
    assert summary["keep_fraction"] == summary["kept"] / N_EVENTS
    assert summary["nn_overhead_fraction"] == pytest.approx(
        summary["seconds"]["nn"] / summary["seconds"]["generator"], rel=1e-3
    )
    assert summary["fullsim_saving_factor"] == N_EVENTS / summary["kept"]
    assert 0 <= summary["signal_efficiency"] <= 1
    low, high = summary["signal_efficiency_interval"]
    assert low <= summary["signal_efficiency"] <= high
    scan = summary["margin_scan"]
    assert [entry["margin"] for entry in scan] == [0.0, MARGIN, 0.3]
    assert scan[1]["keep_fraction"] == summary["keep_fraction"]
    assert scan[1]["signal_efficiency"] == summary["signal_efficiency"]
    keep = [entry["keep_fraction"] for entry in scan]
    assert keep == sorted(keep)  # lower cuts only: a larger margin keeps more
    assert json.loads((directory / "summary.json").read_text()) == summary
    assert not list(directory.glob(".*partial*"))


def test_hepmc_reads_back(filtered, generator_record):
    directory, summary = filtered
    with pyhepmc.open(directory / "kept.hepmc") as f:
        events = list(f)
    assert len(events) == summary["kept"]
    record = generator_record
    for event in events:
        i = event.event_number
        rows = slice(record.offsets[i], record.offsets[i + 1])
        columns = {c: record[c][rows] for c in hepmc_module.RECORD_COLUMNS}
        assert len(event.particles) == columns["pid"].size - 1  # all but the event-as-a-whole
        order, _, _ = hepmc_module._hepevt_layout(
            columns["pid"], columns["status"], columns["mother1"], columns["mother2"],
            columns["daughter1"],
        )
        row_of = {k + 1: int(row) for k, row in enumerate(order)}
        for particle in event.particles:
            row = row_of[particle.id]
            assert particle.pid == columns["pid"][row]
            assert (particle.status == 1) == (columns["status"][row] > 0)
            parents = sorted(row_of[p.id] for p in particle.parents)
            assert parents == _mother_list(
                columns["status"][row], columns["mother1"][row], columns["mother2"][row]
            )
        # the stored prediction passes the selection with the margin
        met = event.attributes["mlsmear_MET_pt"].astype(float)
        assert met * (1 + MARGIN) > 40
    assert events[0].run_info.attributes["mlsmear_selection"].astype(str) == SELECTION


def test_hepmc_input(filtered, generator_record, tiny_bundle_dir, tmp_path):
    directory, summary = filtered
    out = tmp_path / "again.hepmc"
    again = run_filter("MET.pt >= 0", out, hepmc=directory / "kept.hepmc", seed=1,
                       model=tiny_bundle_dir)
    assert again["generated"] == again["kept"] == summary["kept"]
    with pyhepmc.open(directory / "kept.hepmc") as f:
        events = list(f)
    numbers = [e.event_number for e in events]
    record = hepmc_module.record_from_events(events)
    truth = truth_objects(record)
    reference = truth_objects(generator_record)
    for kind in ("jet", "met"):
        got = truth[kind].to_awkward()
        expected = reference[kind].to_awkward()[numbers]
        np.testing.assert_allclose(ak.flatten(got.pt), ak.flatten(expected.pt), rtol=1e-12)
    for kind in ("electron", "muon"):
        assert truth[kind].counts.tolist() == reference[kind].counts[numbers].tolist()
    with pyhepmc.open(out) as f:
        written = list(f)
    assert [e.event_number for e in written] == numbers
    stored = [e.attributes["mlsmear_MET_pt"].astype(float) for e in written]
    # the stored prediction is mlsmear smear's draw for this file: its key is folded in
    arrays = truth_arrays(truth_objects(record, flavour_hadrons(record)))
    bundle = mlsmear.load(tiny_bundle_dir)
    key = open_hepmc(directory / "kept.hepmc").sample_id
    def met(sample_id):
        reco = smear_event(arrays, bundle=bundle, seed=1, event_id=np.asarray(numbers),
                           sample_id=sample_id, kinds=["jet", "met"], device="cpu")
        return ak.to_numpy(reco["met"].pt)
    np.testing.assert_allclose(stored, met(key), rtol=1e-6)
    assert not np.allclose(stored, met(None), rtol=1e-6)


def test_deterministic(filtered, tiny_bundle_dir, tmp_path):
    directory, summary = filtered
    again = run_filter(
        SELECTION, tmp_path / "kept.hepmc", process="ttbar", n_events=N_EVENTS, seed=SEED,
        margin=MARGIN, model=tiny_bundle_dir, batch_size=64,
    )
    assert again["kept"] == summary["kept"]
    assert (tmp_path / "kept.hepmc").read_bytes() == (directory / "kept.hepmc").read_bytes()


# -- errors: clear messages, nothing left behind --------------------------------------------------


def _nothing_written(directory) -> bool:
    return not list(directory.iterdir())


def test_bad_expression_cli(tmp_path, tiny_bundle_dir, capsys):
    status = cli.main(
        ["filter", "--process", "ttbar", "--events", "10", "--select", "os.system('true')",
         "--output", str(tmp_path / "k.hepmc"), "--summary", str(tmp_path / "s.json"),
         "--seed", "1", "--model", str(tiny_bundle_dir)]
    )
    assert status == 2
    error = capsys.readouterr().err
    assert "mlsmear filter: error: selection" in error and "Allowed:" in error
    assert _nothing_written(tmp_path)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"process": "nope", "n_events": 10}, ValueError, "unknown process 'nope'; choose from"),
        ({"process": "gun-electron", "n_events": 10}, ValueError, "unknown process"),
        ({"process": "ttbar"}, ValueError, "--events"),
        ({"hepmc": "missing.hepmc"}, FileNotFoundError, "no HepMC file"),
        ({}, ValueError, "exactly one input"),
    ],
)
def test_bad_input(tmp_path, tiny_bundle_dir, options, error, message):
    with pytest.raises(error, match=message):
        run_filter("MET.pt > 250", tmp_path / "k.hepmc", summary=tmp_path / "s.json",
                   model=tiny_bundle_dir, **options)
    assert _nothing_written(tmp_path)


def test_unreadable_hepmc(tmp_path, tiny_bundle_dir):
    source = tmp_path / "in" / "garbage.hepmc"
    source.parent.mkdir()
    source.write_text("not a HepMC file\n")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ValueError, match="no events could be read"):
        run_filter("MET.pt > 250", out / "k.hepmc", hepmc=source, summary=out / "s.json",
                   model=tiny_bundle_dir)
    assert _nothing_written(out)


def test_missing_generator(tmp_path, tiny_bundle_dir, monkeypatch):
    def missing():
        raise ImportError('event generation needs Pythia 8 (pythia8mc==8.317.2): pip install '
                          '"mlsmear[generate]"')

    monkeypatch.setattr(pipeline, "import_pythia", missing)
    with pytest.raises(ImportError, match="pythia8mc"):
        run_filter("MET.pt > 250", tmp_path / "k.hepmc", process="ttbar", n_events=10,
                   summary=tmp_path / "s.json", model=tiny_bundle_dir)
    assert _nothing_written(tmp_path)


def test_failure_midway_leaves_nothing(tmp_path, tiny_bundle_dir, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pipeline, "record_to_event", broken)
    with pytest.raises(OSError, match="disk full"):
        run_filter("MET.pt >= 0", tmp_path / "k.hepmc", process="ttbar", n_events=5,
                   summary=tmp_path / "s.json", model=tiny_bundle_dir)
    assert _nothing_written(tmp_path)


def test_existing_output_kept(tmp_path, tiny_bundle_dir):
    existing = tmp_path / "k.hepmc"
    existing.write_text("keep me")
    with pytest.raises(ValueError, match="exists"):
        run_filter("MET.pt > 250", existing, process="ttbar", n_events=5, model=tiny_bundle_dir)
    assert existing.read_text() == "keep me"


def test_warning_tally_groups_by_kind_and_input():
    """One warning per (kind, input) from the warnings' attributes, not from their text."""
    tally = pipeline._WarningTally()
    for count in (3, 5):
        with tally.collect():
            for text, field, n in ((f"{count} of 9 jet pt", "pt", count),
                                   ("1 of 9 jet eta", "eta", 1)):
                warnings.warn(mlsmear.OutOfRangeWarning(text, "jet", field, n, 9), stacklevel=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tally.emit(3)
    assert [str(w.message) for w in caught] == [
        "in 2 of 3 batches; the first: 3 of 9 jet pt",
        "in 2 of 3 batches; the first: 1 of 9 jet eta",
    ]
    assert (caught[0].message.field, caught[0].message.count, caught[0].message.total) == (
        "pt", 8, 18
    )
