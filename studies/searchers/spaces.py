"""Search spaces as studies declare them: fixed values and Tune domains, and every arm's config up front."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from ray.tune.search.sample import Categorical, Domain, Float, Function, Integer


def split_space(declared: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(fixed values, Tune domains) of a declared space."""
    fixed = {k: v for k, v in declared.items() if not isinstance(v, Domain)}
    return fixed, {k: v for k, v in declared.items() if k not in fixed}


def extremes(domain: Domain) -> list[Any]:
    """The values a domain's checks cover: every category, or both ends of a range."""
    if isinstance(domain, Categorical):
        return list(domain.categories)
    if isinstance(domain, (Float, Integer)):
        high = domain.upper - 1 if isinstance(domain, Integer) else domain.upper
        return [domain.lower, high]
    return []


def corner_configs(fixed: Mapping[str, Any], domains: Mapping[str, Domain]) -> list[dict[str, Any]]:
    """Configs at every category and range end of ``domains`` (one field at a time), others at their first value.

    Fields computed from others (``tune.sample_from``) are computed for each.
    """
    searched = {k: extremes(v) for k, v in domains.items() if not isinstance(v, Function)}
    derived = {k: v for k, v in domains.items() if isinstance(v, Function)}
    base = {**fixed, **{k: xs[0] for k, xs in searched.items() if xs}}
    variants = [base] + [{**base, k: x} for k, xs in searched.items() for x in xs[1:]]
    out, seen = [], set()
    for values in variants:
        values = {**values, **{k: f.func(values) for k, f in derived.items()}}
        key = repr(sorted(values.items()))
        if key not in seen:
            seen.add(key)
            out.append(values)
    return out


def unique(configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``configs`` without repeats, in order (a value fixed on the command line collapses arms)."""
    out, seen = [], set()
    for c in configs:
        key = repr(sorted(c.items(), key=lambda kv: kv[0]))
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


def product(factors: Mapping[str, list[Any]]) -> list[dict[str, Any]]:
    names = list(factors)
    return [dict(zip(names, combo)) for combo in itertools.product(*factors.values())]


def checked_configs(ctx: Any, fixed: Mapping[str, Any], domains: Mapping[str, Domain]) -> list[Any]:
    """Every corner of a searched space built as the task's config (so validated) before Ray starts."""
    return ctx.build_configs(corner_configs(fixed, domains))
