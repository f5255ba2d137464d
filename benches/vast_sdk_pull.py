"""The official SDK's full-table read from an emulator, timed.

Usage: vast_sdk_pull.py URL BUCKET ACCESS SECRET SPLITS SUB_SPLITS WORKERS
Prints "rows seconds" for the best of 3 `table.select(config=...).read_all()`.
"""

import sys
import time

import vastdb
from vastdb.config import QueryConfig

url, bucket, access, secret = sys.argv[1:5]
splits, sub_splits, workers = map(int, sys.argv[5:8])
session = vastdb.connect(endpoint=url, access=access, secret=secret)
config = QueryConfig(num_splits=splits, num_sub_splits=sub_splits,
                     limit_rows_per_sub_split=131072, data_endpoints=[url] * workers)
best = None
for _ in range(3):
    with session.transaction() as tx:
        table = tx.bucket(bucket).schema("demo").table("sensors")
        started = time.perf_counter()
        result = table.select(config=config).read_all()
        seconds = time.perf_counter() - started
    if best is None or seconds < best[1]:
        best = (result.num_rows, seconds)
print(*best)
