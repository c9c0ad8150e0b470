"""Verdicts: comparisons paired by seed, their statistics, the looks of a ``--seeds auto`` run, the rule."""
