"""The pipeline vastgate replaces: the official SDK selects the filtered columns from an
emulator, then DuckDB's official Python build computes the analytic on the Arrow table.

Usage: pipeline_sdk.py URL BUCKET ACCESS SECRET CASE RUNS
CASE is a key of CASES. Runs once to warm up, then RUNS times; prints
"best_wall_seconds mean_cpu_seconds rows" (CPU of this process, from getrusage, per run).
"""

import resource
import sys
import time

import duckdb
import vastdb
from ibis import _ as column
from vastdb.config import QueryConfig

url, bucket, access, secret, case = sys.argv[1:6]
runs = int(sys.argv[6])

# (columns to select, DuckDB SQL over the selected table `t`); every case filters
# `temperature > 0` at the SDK, as vastgate's requests do.
CASES = {
    "percentiles": (
        ["region", "temperature"],
        "SELECT region, count(temperature), quantile_cont(temperature, "
        "[0.25, 0.5, 0.75, 0.9, 0.95, 0.99]) FROM t GROUP BY region",
    ),
    "correlation": (
        ["temperature", "humidity", "pressure"],
        "SELECT corr(temperature, humidity), corr(temperature, pressure), "
        "corr(humidity, pressure) FROM t",
    ),
    "top_n": (
        ["sensor_id", "temperature"],
        "SELECT sensor_id, avg(temperature) a FROM t GROUP BY sensor_id ORDER BY a DESC LIMIT 5",
    ),
    "trend": (
        ["region", "ts", "temperature"],
        "SELECT region, regr_slope(temperature, epoch_us(ts) / 1e6), "
        "regr_intercept(temperature, epoch_us(ts) / 1e6), "
        "regr_r2(temperature, epoch_us(ts) / 1e6) FROM t GROUP BY region",
    ),
    "window_aggregate": (
        ["region", "ts", "temperature"],
        "SELECT region, epoch_us(ts) // 3600000000 AS b, count(temperature), avg(temperature), "
        "max(temperature), quantile_cont(temperature, 0.95) FROM t GROUP BY region, b",
    ),
}

columns, sql = CASES[case]
session = vastdb.connect(endpoint=url, access=access, secret=secret)
# The split layout of benches/vast.rs: 8 splits x 4 sub-splits, 4 concurrent workers.
config = QueryConfig(num_splits=8, num_sub_splits=4, limit_rows_per_sub_split=131072,
                     data_endpoints=[url] * 4)
duck = duckdb.connect(config={"threads": 2})


def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run():
    with session.transaction() as tx:
        table = tx.bucket(bucket).schema("demo").table("sensors")
        t = table.select(columns=columns, predicate=column.temperature > 0, config=config).read_all()
    return len(duck.execute(sql).fetchall()) if t.num_rows else 0


run()
best, cpus, rows = None, [], 0
for _ in range(runs):
    started, before = time.perf_counter(), cpu()
    rows = run()
    seconds = time.perf_counter() - started
    cpus.append(cpu() - before)
    best = seconds if best is None else min(best, seconds)
print(best, sum(cpus) / len(cpus), rows)
