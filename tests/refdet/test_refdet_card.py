"""Reference-detector cards: the shipped card's numbers, validation errors, formulas, geometry,
and the detector's handling of bad or empty input."""

from __future__ import annotations

from importlib import resources

import awkward as ak
import numpy as np
import pytest

from mlsmear.refdet import CardError, Collection, Detector, load_card, shipped_cards
from mlsmear.refdet.calorimeter import TowerGrid
from mlsmear.refdet.formula import Formula, FormulaError

ATLAS = resources.files("mlsmear").joinpath("cards/atlas-like.toml").read_text()


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector.from_card("atlas-like")


def _stage(detector: Detector, name: str):
    return next(stage for stage in detector.stages if stage.name == name)


def _at(formula: Formula, **values: float) -> float:
    return float(formula(**{k: np.array([v]) for k, v in values.items()})[0])


def test_shipped_card_builds_the_execution_path(detector):
    assert "atlas-like" in shipped_cards()
    assert set(detector.card.outputs) == {"jet", "electron", "muon", "photon", "met"}
    modules = [type(stage).__name__ for stage in detector.stages]
    assert modules.count("Calorimeter") == 2 and modules[-1] == "BTagging"
    assert "JetFinder(jet_finder: towers -> raw_jets)" in repr(detector)


@pytest.mark.parametrize(
    ("stage", "param", "point", "expected"),
    [
        # DESIGN.md section 5 (Delphes ATLAS card)
        ("charged_hadron_tracking_efficiency", "efficiency", {"pt": 0.5, "eta": 0.3}, 0.70),
        ("charged_hadron_tracking_efficiency", "efficiency", {"pt": 5.0, "eta": 2.0}, 0.85),
        ("charged_hadron_tracking_efficiency", "efficiency", {"pt": 5.0, "eta": 2.6}, 0.0),
        ("charged_hadron_tracking_efficiency", "efficiency", {"pt": 0.05, "eta": 0.0}, 0.0),
        ("electron_tracking_efficiency", "efficiency", {"pt": 150.0, "eta": -2.0}, 0.90),
        ("muon_tracking_efficiency", "efficiency", {"pt": 50.0, "eta": 1.0}, 0.99),
        ("muon_momentum_smearing", "resolution", {"pt": 100.0, "eta": 0.2}, np.hypot(0.01, 0.01)),
        ("electron_momentum_smearing", "resolution", {"pt": 10.0, "eta": 2.0},
         np.hypot(0.15, 10 * 3.1e-3)),
        ("photon_efficiency", "efficiency", {"pt": 50.0, "eta": 2.0}, 0.85),
        ("photon_efficiency", "efficiency", {"pt": 9.0, "eta": 0.0}, 0.0),
        ("muon_efficiency", "efficiency", {"pt": 50.0, "eta": 2.6}, 0.85),
        ("ecal", "resolution", {"energy": 50.0, "eta": 1.0},
         np.sqrt(50**2 * 0.0017**2 + 50 * 0.101**2)),
        ("hcal", "resolution", {"energy": 100.0, "eta": 4.0},
         np.sqrt(100**2 * 0.0942**2 + 100 * 1.0**2)),
        ("jet_energy_scale", "scale", {"pt": 100.0, "eta": 1.0}, np.sqrt(2.8**2 / 100 + 1)),
        ("btagging", "efficiency_b", {"pt": 50.0, "eta": 0.0},
         0.8 * np.tanh(0.15) * 30 / (1 + 4.3)),
        ("btagging", "efficiency_light", {"pt": 100.0, "eta": 0.0}, 0.002 + 7.3e-4),
    ],
)  # fmt: skip
def test_card_numbers_match_the_design_table(detector, stage, param, point, expected):
    assert _at(getattr(_stage(detector, stage), param), **point) == pytest.approx(expected)


def test_card_scalars(detector):
    jets = _stage(detector, "jet_finder")
    assert (jets.algorithm, jets.r, jets.pt_min) == ("antikt", 0.4, 20.0)
    assert _stage(detector, "electron_isolation").pt_ratio_max == 0.12
    assert _stage(detector, "muon_isolation").pt_ratio_max == 0.25
    ecal = _stage(detector, "ecal")
    assert (ecal.energy_min, ecal.significance_min) == (0.5, 2.0)
    np.testing.assert_allclose(ecal.energy_fractions(np.array([22, -11, 211, 310, 13])),
                               [1.0, 1.0, 0.0, 0.3, 0.0])  # fmt: skip


def _load_modified(tmp_path, old: str, new: str):
    assert old in ATLAS
    path = tmp_path / "card.toml"
    path.write_text(ATLAS.replace(old, new, 1))
    return load_card(path)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("significance_min = 2.0", "significance_mim = 2.0", "unknown key(s) ['significance_mim']"),
        ("smear_tower_center = true\n", "", "missing key(s) ['smear_tower_center']"),
        ("[hcal]", "[hcall]", "unknown key(s) ['hcall']"),
        ('inputs = ["raw_jets"]', 'inputs = ["rawjets"]', "'rawjets' is not written"),
        ('module = "Calorimeter"', 'module = "Calorimetre"', "valid: ['BTagging'"),
        ("r = 0.4", 'r = "0.4"', "expected a number"),
        ("r = 0.4", "r = -0.4", "must be >= 0.0"),
        ('algorithm = "antikt"', 'algorithm = "anti-kt"', "expected one of ['antikt'"),
        ("dr_max = 0.5", "dr_max = true", "expected a number"),
        ("granularity = [[0.0, 3.0", "granularity = [[0.1, 3.0", "must start at 0.0"),
        ("111 = 1.0", "111 = 1.5", "fraction must be in [0, 1]"),
        ('outputs = ["jets"]', 'outputs = ["towers"]', "['towers'] already written"),
        ("met = \"missing_et\"", "met = \"met\"", "outputs.met = 'met' is not written"),
        ('scale = "sqrt(', 'scale = "sqrtt(', "unknown function 'sqrtt'"),
        ('scale = "sqrt((3.0 - 0.2 * abs(eta))**2', 'scale = "sqrt((3.0 - 0.2 * abs(eta))^2',
         "use ** for powers"),
    ],
)  # fmt: skip
def test_invalid_cards_raise_with_the_valid_choices(tmp_path, old, new, message):
    with pytest.raises(CardError) as info:
        _load_modified(tmp_path, old, new)
    assert message in str(info.value)


def test_unknown_key_error_lists_valid_keys(tmp_path):
    with pytest.raises(CardError, match="valid keys are .*'significance_min'"):
        _load_modified(tmp_path, "significance_min = 2.0", "significance_mim = 2.0")


def test_card_names_and_paths(tmp_path):
    with pytest.raises(CardError, match="shipped cards \\['atlas-like'"):
        load_card("atlas")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_card(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = ")
    with pytest.raises(CardError, match="not valid TOML"):
        load_card(bad)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pt ^ 2", "use \\*\\* for powers"),
        ("pt.__class__", "Attribute is not allowed"),
        ("open('x')", "unknown function 'open'"),
        ("pt.real(1)", "call .* is not allowed"),
        ("[pt]", "List is not allowed"),
        ("energy * 2", "unknown name 'energy'"),
        ("'a'", "is not a number"),
        ("sqrt(pt", "does not parse"),
        ("minimum(pt)", "cannot be evaluated"),
    ],
)
def test_formula_whitelist(text, message):
    with pytest.raises(FormulaError, match=message):
        Formula(text, ("pt", "eta"))


def test_formula_chained_comparisons_are_elementwise():
    f = Formula("(0.1 < pt <= 1.0) * 0.7 + (pt > 1.0) * 0.95", ("pt", "eta"))
    pt = np.array([0.05, 0.5, 1.0, 3.0])
    np.testing.assert_allclose(f(pt=pt, eta=np.zeros(4)), [0.0, 0.7, 0.7, 0.95])
    assert f(pt=pt, eta=pt).dtype == np.float64
    np.testing.assert_allclose(Formula("0.5", ("pt",))(pt=pt), 0.5)  # constants broadcast


def test_tower_grid_cells_round_trip():
    grid = TowerGrid([(0.0, 3.0, 0.0174, 1.0), (3.0, 4.9, 0.175, 10.0)])
    n_eta_central = int(np.ceil(3.0 / 0.0174))
    assert grid.n_cells == 2 * (n_eta_central * 360 + 11 * 36)
    rng = np.random.default_rng(0)
    eta, phi = rng.uniform(-4.89, 4.89, 1000), rng.uniform(-np.pi, np.pi, 1000)
    cell = grid.cell(eta, phi)
    eta_lo, eta_hi, phi_lo, phi_hi = grid.bounds(cell)
    assert np.all((eta_lo <= eta) & (eta < eta_hi) & (phi_lo <= phi) & (phi < phi_hi))
    assert np.all(grid.cell(np.array([5.0, -5.1]), np.zeros(2)) == -1)


def _gun_particles(n_events: int, pid: int = 22, pt: float = 50.0) -> ak.Array:
    rng = np.random.default_rng(5)
    flat = {
        "pt": np.full(n_events, pt), "eta": rng.uniform(-1, 1, n_events),
        "phi": rng.uniform(-np.pi, np.pi, n_events), "mass": np.zeros(n_events),
        "pid": np.full(n_events, pid), "charge": np.zeros(n_events),
    }  # fmt: skip
    return ak.unflatten(ak.zip(flat), np.ones(n_events, int))


def test_detector_is_deterministic_per_seed(detector):
    particles = _gun_particles(200)
    first, again = detector.run(particles, 3), detector.run(particles, 3)
    other = detector.run(particles, 4)
    for kind in first:
        np.testing.assert_array_equal(first[kind]["pt"], again[kind]["pt"])
    assert not np.array_equal(first["photon"]["pt"], other["photon"]["pt"])


def test_detector_accepts_empty_input(detector):
    none = detector.run(_gun_particles(0), 1)
    assert all(c.n_events == 0 and len(c) == 0 for c in none.values())
    out = detector.run(Collection.from_awkward(_gun_particles(3)[:, :0]), 1)
    assert out["met"].n_events == 3 and np.all(out["met"]["pt"] == 0.0)
    assert out["jet"].counts.tolist() == [0, 0, 0]


def test_detector_rejects_bad_particles(detector):
    particles = _gun_particles(5)
    with pytest.raises(ValueError, match="missing the fields \\['charge'\\]"):
        detector.run(particles[["pt", "eta", "phi", "mass", "pid"]], 1)
    broken = ak.with_field(particles, ak.where(particles.pt > 0, np.nan, particles.pt), "pt")
    with pytest.raises(ValueError, match="non-finite values of 'pt'"):
        detector.run(broken, 1)
