"""Which task a study ran: its names (metrics, artifacts, main metric) come from the task, not from analysis.

A study's task module (``trainables/<package>/task.py``) is imported only
when a run of that study is analysed, so analysing a q1 run needs nothing of
q2's or q3's dependencies.
"""

from __future__ import annotations

import importlib
from typing import Any

from trainables.common.task import Task

PACKAGES = {"q1": "stock", "q2": "chargen", "q3": "tweets"}  # study -> trainables package
STUDIES = tuple(PACKAGES)


def task_of(study: str, package: str | None = None) -> Task:
    """The ``TASK`` of ``study`` (or of ``package`` when study.json names it)."""
    package = package or PACKAGES.get(study)
    if package is None:
        raise ValueError(f"unknown study {study!r}: expected one of {', '.join(STUDIES)}")
    return importlib.import_module(f"trainables.{package}.task").TASK


def selection(info: dict[str, Any]) -> tuple[str, str]:
    """(metric, mode) a run selected on: from study.json, else from its study's task."""
    if info.get("metric") and info.get("mode"):
        return info["metric"], info["mode"]
    task = task_of(info.get("study", ""), info.get("task"))
    return task.metric, task.mode
