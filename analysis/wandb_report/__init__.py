"""The run in Weights & Biases: final plots and tables logged, and the W&B Report of the run."""
