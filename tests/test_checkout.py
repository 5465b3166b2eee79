"""A checkout imports like an install (mlsmear._checkout): after a non-editable ``pip install .``,
Python started in the repository root loads the shipped weights and imports the processors."""

import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

from mlsmear._checkout import mapped_packages

ROOT = Path(__file__).resolve().parents[1]


def test_mapped_packages_from_pyproject(tmp_path):
    assert mapped_packages(ROOT) == {
        "mlsmear.processors": ROOT / "processors", "mlsmear.weights": ROOT / "weights"
    }
    assert mapped_packages(tmp_path) == {}  # no pyproject.toml: an installed package
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "other"\n')
    assert mapped_packages(tmp_path) == {}


def test_every_subpackage_is_installed():
    # a folder of mlsmear/ missing from pyproject's package list is left out of a non-editable
    # install, although the checkout and an editable install import it
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for path in (ROOT / "mlsmear").rglob("__init__.py") if "__pycache__" not in path.parts
    }
    assert found | set(mapped_packages(ROOT)) == set(config["packages"])


@pytest.mark.slow
def test_checkout_imports_like_a_non_editable_install(tmp_path):
    source = tmp_path / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("mlsmear", "processors", "weights"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    # this environment's packages as plain path entries: their .pth files (the editable install
    # of mlsmear among them) are not run, so only the fresh install provides mlsmear
    (Path(site) / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
         str(source)], check=True, capture_output=True,
    )
    code = (
        "import mlsmear, pathlib; assert pathlib.Path(mlsmear.__file__).parent == "
        f"pathlib.Path({str(ROOT / 'mlsmear')!r}), mlsmear.__file__; "
        "assert 'jet' in mlsmear.load('atlas-like'); "
        "from mlsmear import processors; from mlsmear.processors import TTbarLeptonJets; "
        "import mlsmear.weights; print('ok')"
    )
    result = subprocess.run([python, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"
    # outside the checkout the installed package itself serves, the command line included
    installed = (
        "import mlsmear, pathlib, sys; assert pathlib.Path(mlsmear.__file__).is_relative_to("
        "sys.prefix), mlsmear.__file__; import mlsmear.physics.matching; "
        "from mlsmear.cli import main; main(['models'])"
    )
    result = subprocess.run([python, "-c", installed], cwd=tmp_path, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "atlas-like" in result.stdout
