"""``mlsmear rematch``: pairs of the first matching pass alone get the second, in place."""

from __future__ import annotations

import numpy as np
import pytest

from mlsmear.cli import main
from mlsmear.pairs import read_meta, read_pairs, write_pairs
from mlsmear.physics.matching import LEFTOVER_DR, MATCH_DR
from mlsmear.rematch import rematch_pairs

NAN = np.nan


def _first_pass_pairs(directory, **meta):
    """Event 4: truth jet 1 lost, a reco-only jet 0.3 from it; event 6: a reco-only jet 0.3 from
    event 4's jet 1 in η-φ, but in another event; an electron lost next to a reco-only one."""
    jet = {
        "event": np.array([4, 4, 6]), "truth_pt": np.array([50.0, 30.0, 40.0]),
        "truth_eta": np.array([0.0, 1.0, -1.0]), "truth_phi": np.zeros(3),
        "truth_mass": np.array([5.0, 3.0, 4.0]), "matched": np.array([True, False, False]),
        "reco_pt": np.array([48.0, NAN, NAN]), "reco_eta": np.array([0.05, NAN, NAN]),
        "reco_phi": np.array([0.0, NAN, NAN]), "reco_mass": np.array([4.0, NAN, NAN]),
    }
    jet_reco_only = {
        "event": np.array([6, 4]), "reco_pt": np.array([70.0, 27.0]),
        "reco_eta": np.array([1.3, 1.3]), "reco_phi": np.zeros(2), "reco_mass": np.array([7, 2.5]),
    }
    electron = {**{k: v[1:2] for k, v in jet.items()}, "truth_mass": np.zeros(1)}
    electron_reco_only = {k: v[1:] for k, v in jet_reco_only.items()}
    tables = {"jet": jet, "jet_reco_only": jet_reco_only, "electron": electron,
              "electron_reco_only": electron_reco_only}
    write_pairs(directory, tables, {"generator": "test", "n_events": 2, **meta})
    return directory


def test_rematch_pairs_the_leftovers_of_each_event_once(tmp_path, capsys):
    directory = _first_pass_pairs(tmp_path / "p", match_dr=MATCH_DR)
    assert main(["rematch", str(directory)]) == 0
    assert "1 jet truth objects found their partner" in capsys.readouterr().out
    jet = read_pairs(directory, "jet").to_pydict()
    assert jet["matched"] == [True, True, False]
    assert jet["reco_pt"][:2] == [48.0, 27.0] and np.isnan(jet["reco_pt"][2])
    assert read_pairs(directory, "jet_reco_only").to_pydict()["reco_pt"] == [70.0]
    # electrons have no second pass
    assert read_pairs(directory, "electron").to_pydict()["matched"] == [False]
    assert len(read_pairs(directory, "electron_reco_only")) == 1
    meta = read_meta(directory)
    assert meta["leftover_dr"] == LEFTOVER_DR and meta["rows"]["jet_reco_only"] == 1
    assert "second matching pass" in meta["notes"][-1]
    assert sorted(p.name for p in directory.iterdir()) == sorted(
        ["jet.parquet", "jet_reco_only.parquet", "electron.parquet",
         "electron_reco_only.parquet", "meta.json"])
    assert main(["rematch", str(directory)]) == 0
    assert "has the second matching pass already" in capsys.readouterr().out


def test_pairs_not_matched_by_delta_r_are_refused(tmp_path, capsys):
    directory = _first_pass_pairs(tmp_path / "nano")  # no match_dr: e.g. NanoAOD's links
    with pytest.raises(ValueError, match="not matched by ΔR"):
        rematch_pairs(directory)
    assert main(["rematch", str(directory)]) == 2
    assert "not matched by ΔR" in capsys.readouterr().err
    assert read_pairs(directory, "jet").to_pydict()["matched"] == [True, False, False]
