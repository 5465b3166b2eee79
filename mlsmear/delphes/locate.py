"""Find a complete Delphes build (``mlsmear delphes build``) and describe it (``delphes info``)."""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .build import DelphesBuildError, _mock_site_packages, delphes_home, find_root

__all__ = ["DelphesInstallation", "DelphesNotBuilt", "delphes_info", "locate_delphes"]


class DelphesNotBuilt(DelphesBuildError):
    """No complete Delphes build was found."""


@dataclass(frozen=True)
class DelphesInstallation:
    """A complete build: ``directory`` holds ``src/``, ``build/`` and ``build.json``."""

    directory: Path
    info: dict[str, Any]

    @property
    def source_dir(self) -> Path:
        """The (patched) Delphes source, with the upstream ``cards/``."""
        return self.directory / "src"

    @property
    def build_dir(self) -> Path:
        return self.directory / "build"

    def executable(self, name: str = "DelphesHepMC3") -> Path:
        """Path of a Delphes reader executable (``DelphesHepMC3``, ``DelphesROOT``, ...)."""
        path = self.build_dir / "readers" / name
        if not path.is_file():
            raise DelphesNotBuilt(f"the Delphes build {self.directory} has no {name}")
        return path

    def environment(self) -> dict[str, str]:
        """Environment to run Delphes: ``libDelphes.so`` and ROOT's libraries on
        ``LD_LIBRARY_PATH``, ROOT's ``bin`` on ``PATH``."""
        root = find_root()
        with contextlib.suppress(DelphesBuildError):  # a build reused from another environment
            _mock_site_packages(root)
        env = dict(os.environ)
        libs = [str(self.build_dir), str(root.lib_dir), env.get("LD_LIBRARY_PATH", "")]
        env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in libs if p)
        env["PATH"] = f"{root.bin_dir}{os.pathsep}{env.get('PATH', '')}"
        return env


def _complete(directory: Path) -> DelphesInstallation | None:
    record = directory / "build.json"
    if not record.is_file():
        return None
    try:
        info = json.loads(record.read_text())
    except (OSError, ValueError):
        return None
    return DelphesInstallation(directory, info)


def locate_delphes() -> DelphesInstallation:
    """The Delphes build to use: ``$MLSMEAR_DELPHES_BUILD`` when set, else the most recent complete
    build under :func:`~mlsmear.delphes.build.delphes_home` made with the installed ROOT version.

    Raises:
        DelphesNotBuilt: with the command that builds it.
    """
    hint = (
        "build it first: mlsmear delphes build --source <Delphes clone or tarball> "
        '(needs pip install "mlsmear[delphes]", a C++ compiler and CMake)'
    )
    chosen = os.environ.get("MLSMEAR_DELPHES_BUILD")
    if chosen:
        found = _complete(Path(chosen))
        if found is None:
            raise DelphesNotBuilt(f"$MLSMEAR_DELPHES_BUILD={chosen} is no complete build; {hint}")
        return found
    home = delphes_home()
    builds = [b for b in map(_complete, sorted(home.glob("*/"))) if b] if home.is_dir() else []
    if not builds:
        raise DelphesNotBuilt(f"Delphes is not built (nothing in {home}); {hint}")
    root = find_root()
    matching = [b for b in builds if b.info.get("root_version") == root.version]
    if not matching:
        versions = sorted({str(b.info.get("root_version")) for b in builds})
        raise DelphesNotBuilt(
            f"the Delphes builds in {home} use ROOT {versions}, the installed ROOT is "
            f"{root.version}; rebuild: mlsmear delphes build --force --source ..."
        )
    return max(matching, key=lambda b: str(b.info.get("built_at", "")))


def delphes_info() -> dict[str, Any]:
    """Where the Delphes build is and what it was built from (``mlsmear delphes info``)."""
    found = locate_delphes()
    return {"directory": str(found.directory), **found.info,
            "executable": str(found.executable())}  # fmt: skip
