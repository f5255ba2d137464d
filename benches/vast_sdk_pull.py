"""The official SDK's full-table read from an emulator, timed.

Usage: vast_sdk_pull.py URL BUCKET ACCESS SECRET SPLITS SUB_SPLITS WORKERS
Prints "rows seconds cpu" for the best of 3 `table.select(config=...).read_all()`, with the
mean CPU seconds (getrusage of this process) per read.
"""

import resource
import sys
import time

import vastdb
from vastdb.config import QueryConfig

url, bucket, access, secret = sys.argv[1:5]
splits, sub_splits, workers = map(int, sys.argv[5:8])
session = vastdb.connect(endpoint=url, access=access, secret=secret)
config = QueryConfig(num_splits=splits, num_sub_splits=sub_splits,
                     limit_rows_per_sub_split=131072, data_endpoints=[url] * workers)
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


best, cpus = None, []
for _ in range(3):
    with session.transaction() as tx:
        table = tx.bucket(bucket).schema("demo").table("sensors")
        started, before = time.perf_counter(), cpu()
        result = table.select(config=config).read_all()
        seconds = time.perf_counter() - started
        cpus.append(cpu() - before)
    if best is None or seconds < best[1]:
        best = (result.num_rows, seconds)
print(*best, sum(cpus) / len(cpus))
