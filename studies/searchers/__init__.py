"""The searchers a study can run, one module each, found by name.

Each module defines ``NAME`` (the ``--search`` value), ``HELP``,
``add_flags(group)`` for flags of its own and ``plan(ctx) -> base.Plan``:
what Tune runs and what is checked before Ray starts. Adding a searcher is
adding its module here; nothing else lists them.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

HELPERS = {"base", "spaces"}  # modules of this package that are not searchers


def available() -> dict[str, ModuleType]:
    """``--search`` value -> searcher module, the grid (the paper's designs) first."""
    found = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name in HELPERS:
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        found[module.NAME] = module
    return dict(sorted(found.items(), key=lambda kv: kv[0] != "grid"))
