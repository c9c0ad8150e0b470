"""The report (the document a run ends with): entries built once, report parts, tables, plots, HTML."""
