"""numba's on-disk cache (``cache=True``) where one can be written, never an import error.

numba caches compiled kernels beside the sources (``__pycache__``) or in the user's cache
directory; in a read-only installation with a non-writable ``HOME`` (containers, grid jobs) it
finds neither and ``cache=True`` raises ``RuntimeError: cannot cache function ...: no locator
available`` at import. Imported first by :mod:`mlsmear`, this module checks numba's own locators
for the package's sources and, when none is usable, points ``numba.config.CACHE_DIR`` at a
per-user directory under the temporary directory (``$TMPDIR/mlsmear-numba-<uid>``); where even
that cannot be written, kernels are compiled without a cache (slower start, same results). A
``NUMBA_CACHE_DIR`` the user set is left alone.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from numba.core import caching, config, dispatcher

__all__ = ["cache_location"]


def _probe() -> None:  # pragma: no cover - never called, only located
    """A function in the package's sources, for numba's cache locators."""


def _locatable() -> bool:
    try:
        caching.FunctionCache(_probe)
    except RuntimeError:
        return False
    return True


def _without_cache_on_failure() -> None:
    """Make ``cache=True`` compile without a cache where no cache can be written."""
    enable = dispatcher.Dispatcher.enable_caching
    if getattr(enable, "_mlsmear", False):
        return

    def enable_caching(self):  # noqa: ANN001 - numba's signature
        try:
            enable(self)
        except RuntimeError:
            self._cache = caching.NullCache()

    enable_caching._mlsmear = True  # type: ignore[attr-defined]
    dispatcher.Dispatcher.enable_caching = enable_caching  # type: ignore[method-assign]


#: numba's options (set as module attributes at run time, which type checkers cannot see).
_options: Any = config


def cache_location() -> str:
    """Where numba caches mlsmear's kernels: ``"in-tree or user"``, a directory, or ``"none"``."""
    if _options.CACHE_DIR or _locatable():
        return _options.CACHE_DIR or "in-tree or user"
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    directory = os.path.join(tempfile.gettempdir(), f"mlsmear-numba-{uid}")
    _options.CACHE_DIR = directory
    if _locatable():
        return directory
    _options.CACHE_DIR = ""
    _without_cache_on_failure()
    return "none"


LOCATION = cache_location()
