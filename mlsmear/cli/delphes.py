"""The ``mlsmear delphes`` sub-command: ``build`` Delphes against the ROOT wheel, ``info``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from ..delphes.build import DelphesBuildError, build_delphes, delphes_home

__all__ = ["register", "run"]

_EPILOG = """\
build: unpacks or copies the source into the user cache directory
  ($XDG_CACHE_HOME/mlsmear/delphes/<source sha256 prefix>/, or $MLSMEAR_DELPHES_HOME), applies the
  changes the ROOT wheel needs (CMake COMPONENTS EG only, no display, mock_site_packages links,
  ROOT_DIR, rpath-link) and runs cmake + make. Nothing happens when that source is already built.
  Needs ROOT (pip install "mlsmear[delphes]"), a C++ compiler, CMake and make.
info: where the build in use is, its Delphes commit and ROOT version.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``delphes`` sub-command to the ``mlsmear`` parser."""
    parser = subparsers.add_parser(
        "delphes",
        help="build real Delphes against the ROOT wheel; show the build",
        description=__doc__,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", required=True)
    build = actions.add_parser("build", help="build Delphes from a source clone or tarball")
    build.add_argument(
        "--source",
        default=os.environ.get("MLSMEAR_DELPHES_SOURCE"),
        help="Delphes source directory or .tar.gz (default $MLSMEAR_DELPHES_SOURCE)",
    )
    build.add_argument("--jobs", type=int, default=2, help="parallel compile jobs (default 2)")
    build.add_argument("--force", action="store_true", help="rebuild even if already built")
    actions.add_parser("info", help="where the Delphes build is; its Delphes and ROOT versions")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``mlsmear delphes build`` or ``mlsmear delphes info``; returns the exit status."""
    try:
        if args.action == "build":
            if not args.source:
                raise DelphesBuildError(
                    "pass --source: an upstream Delphes clone or source tarball"
                )
            start = time.perf_counter()
            directory = build_delphes(args.source, jobs=args.jobs, force=args.force)
            print(f"Delphes build: {directory} ({time.perf_counter() - start:.0f} s)")
            return 0
        from ..delphes.locate import delphes_info

        info = delphes_info()
        print(json.dumps(info, indent=2))
        return 0
    except DelphesBuildError as err:
        print(f"mlsmear delphes {args.action}: error: {err}", file=sys.stderr)
        if args.action == "info":
            print(f"(builds live in {delphes_home()})", file=sys.stderr)
        return 2
