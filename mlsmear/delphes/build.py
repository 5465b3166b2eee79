"""Build Delphes 3 against the ROOT wheel (``pip install ROOT``) into the user cache directory.

The build applies the four changes of the vendored-source notes (``shared/vendor/README.md``):

1. ``CMakeLists.txt``: ROOT ``COMPONENTS EG`` only (the wheel has no OpenGL / Eve), no
   ``display`` sub-directory, no ``DelphesDisplay`` library;
2. the links ``lib/python3.X/mock_site_packages -> site-packages`` and
   ``site-packages/ROOT/mock_site_packages -> ..`` that the wheel's CMake config and
   ``root-config`` refer to (created when missing);
3. ``cmake -DROOT_DIR=<site-packages>/ROOT/cmake`` with ``ROOT/bin`` on ``PATH`` (``rootcling``);
4. executables linked with ``-Wl,-rpath-link,<site-packages>/root.libs -Wl,--allow-shlib-undefined``
   (the wheel's bundled ``libfreetype`` needs its bundled ``libpng16``).

Layout: ``<cache>/mlsmear/delphes/<first 16 hex digits of the source's SHA-256>/`` holds ``src/``
(the unpacked source, patched), ``build/`` (CMake build tree: ``libDelphes.so`` and
``readers/DelphesHepMC3`` ...) and ``build.json`` (written last: the build is complete exactly when
it exists). Building again with the same source is a no-op; ``<cache>`` is ``$XDG_CACHE_HOME`` or
``~/.cache``, and ``$MLSMEAR_DELPHES_HOME`` replaces ``<cache>/mlsmear/delphes``.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "READERS",
    "DelphesBuildError",
    "RootWheel",
    "build_delphes",
    "delphes_home",
    "find_root",
    "patch_cmakelists",
    "source_commit",
    "source_hash",
]

#: Targets built: the library and its readers (DelphesPythia8 needs Pythia's C++ library).
READERS = ("DelphesHepMC2", "DelphesHepMC3", "DelphesLHEF", "DelphesSTDHEP", "DelphesROOT")
_KEY_LENGTH = 16
_SKIP = {".git", "build", "__pycache__"}


class DelphesBuildError(RuntimeError):
    """Delphes cannot be built or found (missing tool, ROOT, source, or a failed step)."""


def delphes_home() -> Path:
    """Directory holding the Delphes builds: ``$MLSMEAR_DELPHES_HOME`` or
    ``$XDG_CACHE_HOME/mlsmear/delphes`` (``~/.cache/mlsmear/delphes``)."""
    if os.environ.get("MLSMEAR_DELPHES_HOME"):
        return Path(os.environ["MLSMEAR_DELPHES_HOME"])
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(cache) / "mlsmear" / "delphes"


@dataclass(frozen=True)
class RootWheel:
    """The ROOT Python wheel: its ``site-packages`` directory, ``ROOT`` package and version."""

    site_packages: Path
    version: str

    @property
    def package(self) -> Path:
        return self.site_packages / "ROOT"

    @property
    def cmake_dir(self) -> Path:
        return self.package / "cmake"

    @property
    def bin_dir(self) -> Path:
        return self.package / "bin"

    @property
    def lib_dir(self) -> Path:
        return self.package / "lib"

    @property
    def bundled_libs(self) -> Path:
        return self.site_packages / "root.libs"


def find_root() -> RootWheel:
    """Locate the ROOT wheel without importing it; DelphesBuildError when it is not installed."""
    spec = importlib.util.find_spec("ROOT")
    if spec is None or spec.origin is None:
        raise DelphesBuildError(
            'Delphes needs ROOT: pip install "mlsmear[delphes]" (or pip install ROOT)'
        )
    package = Path(spec.origin).resolve().parent
    version_file = package / "cmake" / "ROOTConfig-version.cmake"
    match = version_file.is_file() and re.search(
        r'set\(PACKAGE_VERSION "([^"]+)"\)', version_file.read_text()
    )
    if not match:
        raise DelphesBuildError(
            f"{package} has no CMake configuration (cmake/ROOTConfig-version.cmake): Delphes "
            "builds against the ROOT wheel of the package index (pip install ROOT)"
        )
    return RootWheel(site_packages=package.parent, version=match.group(1))


def _check_tools() -> dict[str, str]:
    """Paths of the C++ compiler, cmake and make; DelphesBuildError naming what is missing."""
    tools = {
        "C++ compiler": os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++"),
        "cmake": shutil.which("cmake"),
        "make": shutil.which("make"),
    }
    missing = [name for name, path in tools.items() if not path]
    if missing:
        raise DelphesBuildError(
            f"building Delphes needs {', '.join(missing)} (e.g. apt-get install g++ cmake make)"
        )
    return {name: str(path) for name, path in tools.items()}


def _tree_files(directory: Path) -> list[Path]:
    files: list[Path] = []
    for root, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP)
        files.extend(Path(root) / n for n in sorted(names))
    return files


def source_hash(source: Path) -> str:
    """SHA-256 (hex) of a source tarball's bytes, or of a source directory's files (relative
    paths and contents, ``.git`` and ``build`` excluded)."""
    digest = hashlib.sha256()
    if source.is_file():
        with source.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    for path in _tree_files(source):
        digest.update(str(path.relative_to(source)).encode() + b"\0")
        digest.update(path.read_bytes() if not path.is_symlink() else os.readlink(path).encode())
    return digest.hexdigest()


def source_commit(source: Path) -> str | None:
    """The Delphes commit of a source: ``git rev-parse HEAD`` of a clone, the commit id that
    ``git archive`` stores in a tarball, else None."""
    git = shutil.which("git")
    if source.is_dir():
        if git and (source / ".git").exists():
            out = subprocess.run(
                [git, "-C", str(source), "rev-parse", "HEAD"], capture_output=True, text=True
            )
            if out.returncode == 0:
                return out.stdout.strip()
        return None
    try:
        with tarfile.open(source) as tar:
            header = tar.pax_headers.get("comment", "")
    except tarfile.TarError:
        return None
    return header.strip() if re.fullmatch(r"[0-9a-f]{40}", header.strip()) else None


def patch_cmakelists(text: str) -> str:
    """Delphes' top-level ``CMakeLists.txt`` for the ROOT wheel: ROOT components ``EG`` only, no
    ``display`` sub-directory and no ``DelphesDisplay`` library (change 1)."""
    patched, n = re.subn(
        r"find_package\(ROOT REQUIRED COMPONENTS[^)]*\)",
        "find_package(ROOT REQUIRED COMPONENTS EG)",
        text,
    )
    if n != 1:
        raise DelphesBuildError("CMakeLists.txt: no 'find_package(ROOT REQUIRED COMPONENTS ...)'")
    patched = re.sub(r"^\s*add_subdirectory\(display\)\s*$\n?", "", patched, flags=re.M)
    patched = re.sub(
        r"add_library\(DelphesDisplay SHARED[^)]*\)\s*", "", patched, flags=re.S
    )
    patched = re.sub(r"target_link_libraries\(DelphesDisplay [^)]*\)\s*", "", patched)
    patched = patched.replace("install(TARGETS Delphes DelphesDisplay ", "install(TARGETS Delphes ")
    if "DelphesDisplay" in patched or "add_subdirectory(display)" in patched:
        raise DelphesBuildError("CMakeLists.txt: could not remove the DelphesDisplay library")
    return patched


def _mock_site_packages(root: RootWheel) -> None:
    """Create the two ``mock_site_packages`` links of change 2 where they are missing."""
    links = {
        root.site_packages.parent / "mock_site_packages": root.site_packages.name,
        root.package / "mock_site_packages": "..",
    }
    for link, target in links.items():
        if link.is_symlink() or link.exists():
            if not (link / "ROOT" / "cmake").is_dir():
                raise DelphesBuildError(f"{link} exists but does not lead to the ROOT wheel")
            continue
        try:
            link.symlink_to(target)
        except OSError as err:
            raise DelphesBuildError(f"cannot create the link {link} -> {target}: {err}") from err


def _unpack(source: Path, destination: Path) -> None:
    """Copy a source directory or unpack a tarball (its single top directory) to ``destination``."""
    if source.is_dir():
        if not (source / "CMakeLists.txt").is_file() or not (source / "cards").is_dir():
            raise DelphesBuildError(f"{source} is no Delphes source tree (CMakeLists.txt, cards/)")
        shutil.copytree(source, destination, symlinks=True, ignore=shutil.ignore_patterns(*_SKIP))
        return
    staging = destination.with_name(destination.name + ".unpack")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        with tarfile.open(source) as tar:
            tar.extractall(staging, filter="data")
    except (tarfile.TarError, OSError) as err:
        raise DelphesBuildError(f"cannot unpack {source}: {err}") from err
    tops = list(staging.iterdir())
    top = tops[0] if len(tops) == 1 and tops[0].is_dir() else staging
    if not (top / "CMakeLists.txt").is_file() or not (top / "cards").is_dir():
        raise DelphesBuildError(f"{source} does not hold a Delphes source tree")
    top.rename(destination)
    shutil.rmtree(staging, ignore_errors=True)


def _run(command: list[str], *, cwd: Path, env: dict[str, str], log: Path, what: str) -> None:
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(command)}\n")
        out.flush()
        result = subprocess.run(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-25:])
        raise DelphesBuildError(f"{what} failed (exit {result.returncode}); log {log}:\n{tail}")


def build_delphes(
    source: str | os.PathLike[str], *, jobs: int = 2, force: bool = False, verbose: bool = True
) -> Path:
    """Build Delphes from ``source`` (a source directory or tarball) unless already built.

    Arguments:
        source: upstream Delphes clone or source tarball.
        jobs: parallel compile jobs (``make -j``).
        force: rebuild even when a complete build exists.
        verbose: print the steps to standard error.

    Returns:
        The build directory (``<delphes_home()>/<hash prefix>``); its ``build.json`` records the
        source, its SHA-256, the Delphes commit, the ROOT version and the build time (s).
    """
    source = Path(source).expanduser().resolve()
    if not source.exists():
        raise DelphesBuildError(f"no Delphes source at {source} (a directory or a .tar.gz)")
    if jobs < 1:
        raise DelphesBuildError(f"--jobs must be >= 1, got {jobs}")
    tools = _check_tools()
    root = find_root()
    sha = source_hash(source)
    home = delphes_home()
    home.mkdir(parents=True, exist_ok=True)
    target = home / sha[:_KEY_LENGTH]

    def say(message: str) -> None:
        if verbose:
            print(f"mlsmear delphes: {message}", file=sys.stderr, flush=True)

    with (home / f"{sha[:_KEY_LENGTH]}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build of a source at a time
        record = target / "build.json"
        if record.is_file() and not force:
            say(f"already built in {target}")
            return target
        start = time.perf_counter()
        shutil.rmtree(target, ignore_errors=True)  # an incomplete build (no build.json)
        target.mkdir(parents=True)
        say(f"unpacking {source} into {target / 'src'}")
        _unpack(source, target / "src")
        cmakelists = target / "src" / "CMakeLists.txt"
        cmakelists.write_text(patch_cmakelists(cmakelists.read_text()))
        _mock_site_packages(root)
        env = dict(os.environ)
        env["PATH"] = f"{root.bin_dir}{os.pathsep}{env.get('PATH', '')}"
        build = target / "build"
        build.mkdir()
        log = target / "build.log"
        flags = f"-Wl,-rpath-link,{root.bundled_libs} -Wl,--allow-shlib-undefined"
        say(f"configuring with ROOT {root.version} ({root.package}); log {log}")
        _run(
            [
                tools["cmake"], str(target / "src"), f"-DROOT_DIR={root.cmake_dir}",
                f"-DCMAKE_CXX_COMPILER={tools['C++ compiler']}",
                f"-DCMAKE_EXE_LINKER_FLAGS={flags}", "-DCMAKE_BUILD_TYPE=Release",
            ],
            cwd=build, env=env, log=log, what="cmake configuration",
        )  # fmt: skip
        say(f"compiling with make -j{jobs} (about 10 minutes on 2 cores)")
        _run(
            [tools["make"], f"-j{jobs}", "Delphes", *READERS],
            cwd=build, env=env, log=log, what="make",
        )  # fmt: skip
        missing = [r for r in READERS if not (build / "readers" / r).is_file()]
        if missing or not (build / "libDelphes.so").is_file():
            raise DelphesBuildError(f"the build left no {missing or ['libDelphes.so']} in {build}")
        info = {
            "source": str(source),
            "source_sha256": sha,
            "delphes_commit": source_commit(source),
            "root_version": root.version,
            "root_package": str(root.package),
            "compiler": tools["C++ compiler"],
            "jobs": jobs,
            "build_seconds": round(time.perf_counter() - start, 1),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        tmp = record.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(info, indent=2) + "\n")
        tmp.replace(record)
        say(f"built in {info['build_seconds']:.0f} s: {target}")
        return target
