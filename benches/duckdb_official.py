"""DuckDB's official Python build timing one SQL statement (over `read_parquet`).

Usage: duckdb_official.py ROUNDS THREADS SQL
Prints the best of ROUNDS runs in seconds (results fetched as Arrow, as the Rust referee
does), after one warm-up run.
"""

import sys
import time

import duckdb

rounds, threads, sql = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
conn = duckdb.connect(config={"threads": threads})
conn.sql(sql).to_arrow_table()
best = None
for _ in range(rounds):
    started = time.perf_counter()
    conn.sql(sql).to_arrow_table()
    seconds = time.perf_counter() - started
    best = seconds if best is None else min(best, seconds)
print(best)
