"""Every searcher module implements the contract of ``studies.searchers.protocol.Searcher``."""

from __future__ import annotations

import inspect
import types

import pytest

from studies import searchers
from studies.searchers.protocol import Searcher


def test_the_four_searchers_implement_the_protocol_with_a_typed_context():
    found = searchers.available()
    assert list(found) == ["grid", "adaptive", "optuna", "random"]
    for name, module in found.items():
        assert isinstance(module, Searcher) and module.NAME == name and module.HELP
        assert str(inspect.signature(module.plan).parameters["ctx"].annotation) == "Context", name
        assert inspect.signature(module.plan).return_annotation == "base.Plan", name


def test_a_module_missing_a_member_is_refused_by_name(monkeypatch):
    broken = types.ModuleType("studies.searchers.broken")
    broken.NAME, broken.HELP = "broken", "no plan"
    broken.add_flags = lambda group: None
    real = searchers.importlib.import_module
    monkeypatch.setattr(searchers.pkgutil, "iter_modules", lambda path: [types.SimpleNamespace(name="broken")])
    monkeypatch.setattr(searchers.importlib, "import_module",
                        lambda name: broken if name.endswith(".broken") else real(name))
    with pytest.raises(TypeError, match=r"studies\.searchers\.broken is not a searcher .*: it lacks plan"):
        searchers.available()
