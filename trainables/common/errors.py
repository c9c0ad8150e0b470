"""Errors a user can act on.

Data and input problems raise ``DataError`` with a one-line message naming
the file (or source) and the problem; the study CLIs print it and exit with
status 2 before any trial starts, instead of a traceback from deep inside.
"""


class DataError(ValueError):
    """Input data that cannot be used, explained in one line."""
