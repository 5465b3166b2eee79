"""Hold-out provenance (mlsmear.validation.provenance): composite samples count as their parts."""

import json
from types import SimpleNamespace

from mlsmear.pairs import FORMAT, META_FILE
from mlsmear.validation.provenance import holdout_provenance


def _pairs(directory, process, seed):
    directory.mkdir()
    meta = {"format": FORMAT, "generator": "pythia8", "process": process, "seed": seed}
    (directory / META_FILE).write_text(json.dumps(meta))
    return directory


def _bundle(process):
    data = [{"source": "train", "generator": "pythia8", "process": process, "seed": 1}]
    return {"jet": SimpleNamespace(card={"training": {"data": data}})}


def test_a_component_of_the_training_mix_is_no_new_process(tmp_path):
    ttbar = _pairs(tmp_path / "ttbar", "ttbar", 2)
    diboson = _pairs(tmp_path / "diboson", "diboson", 3)
    assert holdout_provenance([ttbar], _bundle("mix"), ["jet"])["new_process"] is False
    assert holdout_provenance([diboson], _bundle("mix"), ["jet"])["new_process"] is True
    assert holdout_provenance([ttbar], _bundle("zjets"), ["jet"])["new_process"] is True
    mix = _pairs(tmp_path / "mix", "mix", 4)
    assert holdout_provenance([mix], _bundle("qcd"), ["jet"])["new_process"] is False
