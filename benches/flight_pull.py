"""Pulls every endpoint of a Flight descriptor in parallel with pyarrow.flight and times it.

Usage: flight_pull.py HOST:PORT PATH_ELEMENT... ; prints "rows seconds bytes" for the best of 3.
"""

import concurrent.futures
import sys
import time

import pyarrow.flight as fl

location = f"grpc://{sys.argv[1]}"
path = sys.argv[2:]


def read(endpoint):
    reader = fl.connect(location).do_get(endpoint.ticket)
    rows = size = 0
    for chunk in reader:
        rows += chunk.data.num_rows
        size += chunk.data.nbytes
    return rows, size


best = None
for _ in range(3):
    started = time.perf_counter()
    info = fl.connect(location).get_flight_info(fl.FlightDescriptor.for_path(*path))
    with concurrent.futures.ThreadPoolExecutor(len(info.endpoints)) as pool:
        parts = list(pool.map(read, info.endpoints))
    seconds = time.perf_counter() - started
    rows, size = sum(p[0] for p in parts), sum(p[1] for p in parts)
    if best is None or seconds < best[1]:
        best = (rows, seconds, size, len(info.endpoints))
print(*best)
