"""Studies: search spaces, Tune and run configs, and a CLI per question."""
