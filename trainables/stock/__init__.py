"""q1: next-day close of several tickers jointly from a window of past days."""
