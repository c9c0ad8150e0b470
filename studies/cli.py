"""Command-line flags made from dataclasses: a task's config and a study's options.

Every field becomes ``--field-name`` with its type, its docstring as help and
its default shown. Config flags default to "not given", so a study can tell
a value the user chose (fixed for every trial, replacing the field's grid or
search space) from one it declares itself. Values are checked by the
dataclass' own validation, so the CLI and Ray Tune accept the same things.

Plain argparse rather than tyro or simple-parsing: the studies mix three
groups (study, task config, data options) with old spellings kept as
aliases, which those libraries' nested-dataclass flags (``--cfg.lr``) would
rename; the field docs and type checks they would add are already in the
configs (``field_docs``, ``validate_fields``).
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import Any

from trainables.common.config import field_docs


def add_dataclass_flags(parser: argparse.ArgumentParser, cls: type, title: str, *, defaults: bool,
                        skip: tuple[str, ...] = (), aliases: dict[str, list[str]] | None = None,
                        ) -> argparse._ArgumentGroup:
    """One flag per field of ``cls``, in a group of its own (returned); with ``defaults=False`` an unset flag is
    left out of the namespace."""
    group = parser.add_argument_group(title)
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        flags = [f"--{f.name.replace('_', '-')}", *(aliases or {}).get(f.name, [])]
        hint, default = hints[f.name], f.default
        # A boolean's alias that means "false": --no-... or one marked "!" (--cased for lowercase).
        negated = [a.lstrip("!") for a in flags[1:] if hint is bool and a.startswith(("--no-", "!"))]
        flags = [a for a in flags if a.lstrip("!") not in negated]  # BooleanOptionalAction would add --no-no-...
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        kw: dict[str, Any] = {"dest": f.name, "help": f"{docs.get(f.name, '')} (default: {shown})".replace("%", "%%")}
        kw["default"] = default if defaults else argparse.SUPPRESS
        if hint is bool:
            kw["action"] = argparse.BooleanOptionalAction
        elif typing.get_origin(hint) is tuple:
            kw.update(type=_comma_list, metavar="A,B")
        elif hint in (int, float):
            kw.update(type=hint, metavar=hint.__name__.upper())
        elif typing.get_origin(hint) is typing.Union:  # str | None and the like: text, "none" for None
            kw.update(type=_optional_text, metavar="TEXT")
        else:
            kw.update(metavar="TEXT")
        group.add_argument(*flags, **kw)
        for alias in negated:
            group.add_argument(alias, dest=f.name, action="store_false", default=kw["default"],
                               help=f"same as --no-{f.name.replace('_', '-')}")
    return group


def chosen(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The fields of ``cls`` given on the command line (flags added with ``defaults=False``)."""
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}


def build(args: argparse.Namespace, cls: type) -> Any:
    """An instance of ``cls`` from the namespace (flags added with ``defaults=True``)."""
    return cls(**{f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)})


def _comma_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _optional_text(text: str) -> str | None:
    return None if text.lower() in ("", "none") else text
