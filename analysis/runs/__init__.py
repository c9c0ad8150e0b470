"""A run as files: the one reader (``read_run``), the trial and history tables, object storage."""
