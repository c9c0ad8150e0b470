"""Every study, found by name: each module of this package that declares a ``STUDY``.

Adding a study is adding its module (``studies/q4.py`` with ``STUDY = Study(...)``);
nothing else lists them.
"""

from __future__ import annotations

import importlib
import pkgutil

import studies
from studies.study import Study


def available() -> dict[str, Study]:
    """Study name -> its declaration."""
    found = {}
    for info in pkgutil.iter_modules(studies.__path__):
        if info.ispkg:
            continue
        module = importlib.import_module(f"studies.{info.name}")
        study = getattr(module, "STUDY", None)
        if isinstance(study, Study):
            found[study.name] = study
    return dict(sorted(found.items()))
