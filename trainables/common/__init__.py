"""Plumbing shared by every task: config checks, metric names, checkpoints, runtime."""
