"""Ray Tune trainables, one package per task; shared plumbing in ``common``."""
