"""The GPU check's parts (``benchmarks/gpu_check.py`` is the command): what it records (``schema``), the sizes
and data it trains on (``specs``), the trials it runs through the shared loop (``trials``), the ``gpu`` tests
and the Ray study it adds (``extras``), and the summary it prints (``summary``).

Nothing here imports Ray, Optuna or wandb: a GPU machine's plain Python runs every part but the Ray study,
which it skips, saying why.
"""
