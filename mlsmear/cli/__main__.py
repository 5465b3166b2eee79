"""``python -m mlsmear.cli``: the ``mlsmear`` command."""

from . import main

raise SystemExit(main())
