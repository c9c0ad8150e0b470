"""The searchers a study can run, one module each, found by name.

Each module implements ``protocol.Searcher``: ``NAME`` (the ``--search``
value), ``HELP``, ``add_flags(group)`` for flags of its own and
``plan(ctx: Context) -> base.Plan``: what Tune runs and what is checked before
Ray starts. Adding a searcher is adding its module here; nothing else lists
them, and a module that misses a member of the contract is refused by name.
"""

from __future__ import annotations

import importlib
import pkgutil

from studies.searchers.protocol import Searcher

HELPERS = {"base", "spaces", "protocol"}  # modules of this package that are not searchers


def available() -> dict[str, Searcher]:
    """``--search`` value -> searcher module, the grid (the paper's designs) first."""
    found = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name in HELPERS:
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if not isinstance(module, Searcher):
            missing = [m for m in ("NAME", "HELP", "add_flags", "plan") if not hasattr(module, m)]
            raise TypeError(f"{module.__name__} is not a searcher (studies.searchers.protocol): it lacks "
                            + ", ".join(missing))
        found[module.NAME] = module
    return dict(sorted(found.items(), key=lambda kv: kv[0] != "grid"))
