"""Benchmark of the identity controller against the real server (`python -m bench`).

The server runs as its own process (`manage.py serve` on a fresh data directory); this
process is the load generator. It measures ott enrollment against a floor of the same
connection pattern, mass auto enrollment with a third-party CA, the console at scale,
and the gain from a second worker process, on SQLite and on PostgreSQL. It prints
figures and never asserts speed.
"""
