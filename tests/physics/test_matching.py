"""Truth <-> reco matching: unique closest pairs within Delta R, and the pairs columns built
from a match."""

from __future__ import annotations

import numpy as np
import pytest

from mlsmear.pairs import RECO_ONLY, assemble_pairs, validate_table
from mlsmear.physics.matching import (
    LEFTOVER_DR,
    MATCH_DR,
    match_leftovers,
    match_rows,
    match_unique,
    pair_tables,
)
from mlsmear.refdet import Collection


def _objects(counts, eta, phi, **extra) -> Collection:
    columns = {"eta": np.asarray(eta, float), "phi": np.asarray(phi, float)}
    columns.update({k: np.asarray(v) for k, v in extra.items()})
    return Collection.from_counts(counts, columns)


def test_closest_pair_wins_and_each_reco_is_used_once():
    truth = _objects([2], [0.0, 0.05], [0.0, 0.0])
    reco = _objects([1], [0.04], [0.0])  # closer to truth 1 (0.01) than to truth 0 (0.04)
    assert match_unique(truth, reco, dr_max=0.2).tolist() == [-1, 0]


def test_greedy_order_is_by_distance_not_by_row():
    truth = _objects([2], [0.0, 1.0], [0.0, 0.0])
    reco = _objects([2], [0.95, 0.1], [0.0, 0.0])
    assert match_unique(truth, reco, dr_max=0.2).tolist() == [1, 0]


def test_cone_is_strict_and_phi_wraps():
    truth = _objects([3], [0.0, 2.0, 3.0], [np.pi - 0.01, 0.0, 0.0])
    reco = _objects([3], [0.0, 2.0, 3.0], [-np.pi + 0.01, 0.2, 0.1 + 1e-9])
    # 0.02 across the phi boundary matches; Delta R = 0.2 is not < 0.2; the third is inside
    assert match_unique(truth, reco, dr_max=0.2).tolist() == [0, -1, 2]


def test_events_are_independent_and_empty_events_work():
    truth = _objects([1, 0, 2, 1], [0.0, 0.0, 1.0, 2.0], [0.0] * 4)
    reco = _objects([0, 1, 2, 1], [0.0, 1.01, 0.0, 2.0], [0.0] * 4)
    # event 0: no reco; event 1: reco but no truth; event 2: two crossed matches; event 3: one
    assert match_unique(truth, reco, dr_max=0.1).tolist() == [-1, 2, 1, 3]
    none = _objects([0, 0], [], [])
    assert match_unique(none, none, dr_max=0.1).tolist() == []


def test_event_count_must_agree():
    with pytest.raises(ValueError, match="truth has 2 events, reco 1"):
        match_unique(_objects([0, 0], [], []), _objects([0], [], []), dr_max=0.1)


def test_assemble_pairs_fills_unmatched_rows():
    columns = assemble_pairs(
        np.array([7, 7, 9]),
        {"pt": np.array([10.0, 20.0, 30.0]), "charge": np.array([-1.0, 1.0, -1.0])},
        {"pt": np.array([21.0, 29.0]), "charge": np.array([1.0, -1.0]), "btag": np.array([1, 0])},
        np.array([-1, 0, 1]),
    )
    assert columns["matched"].tolist() == [False, True, True]
    np.testing.assert_array_equal(columns["reco_pt"], [np.nan, 21.0, 29.0])
    assert columns["reco_charge"].dtype == np.int8 and columns["reco_charge"].tolist() == [0, 1, -1]
    assert columns["reco_btag"].dtype == bool
    assert columns["reco_btag"].tolist() == [False, True, False]


def test_pair_tables_for_a_batch():
    truth_jets = _objects(
        [2, 1], [0.0, 1.0, -1.0], [0.0, 0.0, 2.0], pt=[50.0, 30.0, 80.0], mass=[5.0, 3.0, 8.0]
    )
    reco_jets = _objects(
        [1, 1], [0.05, -1.0], [0.0, 2.1], pt=[45.0, 90.0], mass=[4.0, 9.0], btag=[True, True]
    )
    met = Collection.one_per_event(
        {"pt": np.array([10.0, 20.0]), "phi": np.zeros(2), "ht": np.array([80.0, 80.0]),
         "njet": np.array([2, 1])}
    )  # fmt: skip
    reco_met = Collection.one_per_event({"pt": np.array([12.0, 18.0]), "phi": np.zeros(2)})
    tables = pair_tables(
        np.array([100, 200]), {"jet": truth_jets, "met": met}, {"jet": reco_jets, "met": reco_met}
    )
    jets = validate_table("jet", tables["jet"]).to_pydict()
    assert jets["event"] == [100, 100, 200]
    assert jets["matched"] == [True, False, True]
    assert jets["reco_btag"] == [True, False, True]
    assert validate_table("met", tables["met"]).column("truth_njet").to_pylist() == [2, 1]


def test_match_rows_ties_rows_by_event_in_any_order():
    # truth rows of events 5, 3, 5; reco rows of events 3, 5, 5, 9 (shuffled)
    match = match_rows(
        np.array([5, 3, 5]), np.array([0.0, 1.0, 2.0]), np.zeros(3),
        np.array([5, 3, 9, 5]), np.array([2.05, 1.02, 0.0, 0.01]), np.zeros(4), dr_max=0.1,
    )
    assert match.tolist() == [3, 1, 0]  # event 9's reco row lies at truth row 0's eta: other event
    assert match_rows(np.array([1]), np.zeros(1), np.zeros(1), np.array([], int), np.zeros(0),
                      np.zeros(0), dr_max=0.1).tolist() == [-1]


def _jet_pairs():
    """One event: truth jet 0 matched in the first pass, truth jet 1 left 0.3 from a reco jet."""
    truth = _objects([3], [0.0, 1.0, -2.0], [0.0, 0.0, 0.0], pt=[50.0, 30.0, 20.0],
                     mass=[5.0, 3.0, 2.0])
    reco = _objects([3], [0.05, 1.3, 2.5], [0.0, 0.0, 0.0], pt=[45.0, 28.0, 60.0],
                    mass=[4.0, 2.5, 6.0], btag=[False, True, False])
    return pair_tables(np.array([8]), {"jet": truth}, {"jet": reco})


def test_jets_left_without_partner_take_leftover_reco_jets_within_their_radius():
    tables = _jet_pairs()
    jets = validate_table("jet", tables["jet"]).to_pydict()
    assert jets["matched"] == [True, True, False]  # 0.3 < LEFTOVER_DR; 4.5 away: lost
    assert jets["reco_pt"][:2] == [45.0, 28.0] and jets["reco_btag"][:2] == [False, True]
    assert tables[RECO_ONLY["jet"]]["reco_pt"].tolist() == [60.0]
    assert LEFTOVER_DR["jet"] > MATCH_DR["jet"] and "electron" not in LEFTOVER_DR


def _first_pass_only(first):
    """The pairs a first pass alone wrote of :func:`_jet_pairs`: truth jet 1 lost, its reco jet
    without a partner."""
    jet, reco_only = dict(first["jet"]), dict(first[RECO_ONLY["jet"]])
    jet["matched"] = np.array([True, False, False])
    for name in ("reco_pt", "reco_eta", "reco_phi", "reco_mass"):
        jet[name] = np.array([jet[name][0], np.nan, np.nan])
    jet["reco_btag"] = np.array([False, False, False])
    reco_only = {k: np.concatenate([[first["jet"][k][1]], v]) if k.startswith("reco_")
                 else np.concatenate([[8], v]) for k, v in reco_only.items()}
    return jet, reco_only


def test_match_leftovers_upgrades_pairs_of_the_first_pass_only():
    first = _jet_pairs()
    jet, reco_only = _first_pass_only(first)
    upgraded, left = match_leftovers("jet", jet, reco_only)
    for name in first["jet"]:
        np.testing.assert_array_equal(upgraded[name], first["jet"][name], name)
    for name in first[RECO_ONLY["jet"]]:
        np.testing.assert_array_equal(left[name], first[RECO_ONLY["jet"]][name], name)
    # electrons have no second pass; a second upgrade changes nothing
    unchanged = match_leftovers("electron", jet, reco_only)[0]
    assert unchanged["matched"].tolist() == [True, False, False]
    again, left_again = match_leftovers("jet", upgraded, left)
    assert again["matched"].tolist() == upgraded["matched"].tolist()
    assert left_again["reco_pt"].tolist() == left["reco_pt"].tolist()


def test_match_leftovers_without_leftovers_and_with_nan_directions():
    jet, reco_only = _first_pass_only(_jet_pairs())
    empty = {k: v[:0] for k, v in reco_only.items()}  # no reco-only jets: nothing to pair
    same, left = match_leftovers("jet", jet, empty)
    assert same["matched"].tolist() == [True, False, False] and len(left["event"]) == 0
    # truth jet 1 pairs with reco-only jet 0 (above); with a NaN direction it pairs with none
    unknown = dict(jet, truth_eta=np.array([0.0, np.nan, -2.0]))
    nan_pass, left = match_leftovers("jet", unknown, reco_only)
    assert nan_pass["matched"].tolist() == [True, False, False]
    assert left["reco_pt"].tolist() == reco_only["reco_pt"].tolist()
