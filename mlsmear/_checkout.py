"""A source checkout imports like an install: ``mlsmear.processors`` and ``mlsmear.weights``.

pyproject.toml maps the repository's top-level folders ``processors/`` and ``weights/`` to the
subpackages ``mlsmear.processors`` and ``mlsmear.weights`` (setuptools ``package-dir``). A
non-editable install copies them into the installed package, an editable one maps them with its
own import finder. Python started in the repository root imports the checkout's ``mlsmear/``
instead of the installed one (the current directory comes first on ``sys.path``), and that folder
has no such subpackages: :func:`install` adds an import finder for the mappings that
pyproject.toml names, so the checkout imports as the install does. An installed package has no
pyproject.toml beside it and is left alone; the finder comes last, after every other finder.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from importlib.util import spec_from_file_location
from pathlib import Path
from types import ModuleType

__all__ = ["install", "mapped_packages"]

_PACKAGE = Path(__file__).resolve().parent


def mapped_packages(root: Path) -> dict[str, Path]:
    """Subpackages of mlsmear that ``root/pyproject.toml`` maps to folders outside ``mlsmear/``
    (``{"mlsmear.weights": root / "weights", ...}``); empty if ``root`` is no mlsmear checkout."""
    try:
        config = tomllib.loads((root / "pyproject.toml").read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}
    if config.get("project", {}).get("name") != "mlsmear":
        return {}
    package_dir = config.get("tool", {}).get("setuptools", {}).get("package-dir", {})
    mapped = {}
    for name, folder in package_dir.items():
        directory = (root / folder).resolve()
        if name.startswith("mlsmear.") and directory.parent != _PACKAGE:
            mapped[name] = directory
    return mapped


class _CheckoutFinder(MetaPathFinder):
    """Finds the mapped subpackages in the checkout's top-level folders."""

    def __init__(self, mapped: dict[str, Path]) -> None:
        self.mapped = mapped

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        directory = self.mapped.get(fullname)
        if directory is None or not (directory / "__init__.py").is_file():
            return None
        return spec_from_file_location(
            fullname, directory / "__init__.py", submodule_search_locations=[str(directory)]
        )


def install() -> None:
    """Add the finder when this mlsmear is a checkout's source folder (once per process)."""
    if any(isinstance(finder, _CheckoutFinder) for finder in sys.meta_path):
        return
    mapped = mapped_packages(_PACKAGE.parent)
    if mapped:
        sys.meta_path.append(_CheckoutFinder(mapped))
