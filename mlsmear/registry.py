"""Finding models: shipped bundles by name, or files and directories by path."""

from __future__ import annotations

import functools
import os
from importlib import resources
from pathlib import Path
from typing import Any

from .model import Bundle, KindModel, ModelFileError

__all__ = ["load", "shipped", "DEFAULT_BUNDLE"]

#: The bundle ``model="default"`` means.
DEFAULT_BUNDLE = "atlas-like"


def shipped() -> list[str]:
    """Names of the bundles shipped in ``mlsmear.weights``."""
    root = resources.files("mlsmear.weights")
    return sorted(
        p.name for p in root.iterdir()
        if p.is_dir() and any(f.name.endswith(".json") for f in p.iterdir())
    )


def _signature(path: Path) -> tuple[Any, ...]:
    """What the cache is keyed on: name, size and modification time (ns) of every model file,
    so that a file rewritten in place (even within the directory's mtime) is read again."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".json", ".safetensors"))
    else:
        files = [path, path.with_suffix(".safetensors")]
    out: list[tuple[Any, ...]] = []
    for file in files:
        try:
            stat = file.stat()
        except OSError:
            out.append((file.name, None))
            continue
        out.append((file.name, stat.st_size, stat.st_mtime_ns, stat.st_ino))
    return tuple(out)


@functools.lru_cache(maxsize=16)
def _load_path(path: Path, signature: tuple[Any, ...]) -> Bundle | KindModel:
    if path.is_dir():
        return Bundle.load(path)
    return KindModel.load(path)


def load(
    name_or_path: str | os.PathLike[str] | Bundle | KindModel = "default",
) -> Bundle | KindModel:
    """Load a model bundle or a single-kind model.

    Arguments:
        name_or_path: ``"default"`` (the ``atlas-like`` bundle), a shipped bundle name, a bundle
            directory, or a model card ``<kind>.json``. Models already loaded pass through.
            Loading is cached per path and the size and modification time of each model file:
            a bundle rewritten in place is read again.

    Raises:
        ModelFileError: unknown name, missing/corrupt/mismatched files, pickle files.
    """
    if isinstance(name_or_path, Bundle | KindModel):
        return name_or_path
    name = DEFAULT_BUNDLE if str(name_or_path) == "default" else str(name_or_path)
    path = Path(name)
    if not path.exists():
        shipped_dir = resources.files("mlsmear.weights") / name
        if not shipped_dir.is_dir():
            raise ModelFileError(
                f"no model {name!r}: not a path, and not a shipped bundle {shipped()}"
            )
        path = Path(str(shipped_dir))
    path = path.resolve()
    return _load_path(path, _signature(path))
