"""Turn finished study runs into tables, plots and reports."""
