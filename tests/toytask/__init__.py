"""A fourth task, for tests only: the running sum of a short noisy sequence, with its own files and nothing else.

It proves that a study is one declaration: its task package (config, data,
model, trainer, paper, task) and its study live here, and no file outside
this folder names it.
"""
