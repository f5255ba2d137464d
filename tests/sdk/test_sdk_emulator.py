#!/usr/bin/env python3
"""The official VAST SDK (vastdb 2.1.0) against `vastgate emulate`, checked with DuckDB.

    python tests/sdk/test_sdk_emulator.py --endpoints URL1,URL2 --data DIR \
        --bucket B --access K --secret S

Run by the Rust integration test `vast_sdk::official_sdk_reads_the_emulator_like_duckdb`,
which starts two emulators over one folder. For every predicate the SDK supports and several
QueryConfig variants, `table.select(...).read_all()` must hold exactly the rows DuckDB reads
from the same Parquet file (as multisets). Prints one line per check; exits non-zero on the
first mismatch.
"""

import argparse
import json
import sys
import time
import urllib.request

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import vastdb
from vastdb import errors
from vastdb.config import QueryConfig


def cases(t):
    """(name, ibis predicate or None, SQL WHERE)."""
    return [
        ("all rows", None, "true"),
        ("eq int", t["sensor_id"] == 3, "sensor_id = 3"),
        ("ne int", t["sensor_id"] != 3, "sensor_id <> 3"),
        ("lt float", t["temperature"] < 10.5, "temperature < 10.5"),
        ("le float", t["temperature"] <= 9.14, "temperature <= 9.14"),
        ("gt float", t["humidity"] > 80.0, "humidity > 80.0"),
        ("ge float", t["pressure"] >= 1020.0, "pressure >= 1020.0"),
        ("eq string", t["region"] == "east", "region = 'east'"),
        ("isin int", t["sensor_id"].isin([1, 2, 5]), "sensor_id IN (1, 2, 5)"),
        ("isin string", t["status"].isin(["warn", "error"]), "status IN ('warn', 'error')"),
        ("between", t["temperature"].between(0, 5), "temperature BETWEEN 0 AND 5"),
        ("isnull", t["temperature"].isnull(), "temperature IS NULL"),
        ("not isnull", ~t["temperature"].isnull(), "temperature IS NOT NULL"),
        ("startswith", t["region"].startswith("no"), "starts_with(region, 'no')"),
        ("contains", t["status"].contains("ar"), "contains(status, 'ar')"),
        ("or same column", (t["sensor_id"] == 3) | (t["sensor_id"] > 17),
         "sensor_id = 3 OR sensor_id > 17"),
        ("and across columns",
         (t["sensor_id"] < 5) & (t["region"] == "north") & ~t["humidity"].isnull(),
         "sensor_id < 5 AND region = 'north' AND humidity IS NOT NULL"),
        ("and of ors",
         ((t["status"] == "warn") | (t["status"] == "error")) & (t["humidity"] > 60),
         "(status = 'warn' OR status = 'error') AND humidity > 60"),
        ("empty result", t["sensor_id"] > 1000, "sensor_id > 1000"),
    ]


def same_rows(got: pa.Table, parquet: str, columns, where: str) -> tuple:
    """(rows got, rows expected, rows in only one side), multiset semantics via DuckDB."""
    con = duckdb.connect()
    con.register("got", got)
    cols = ", ".join(f'"{c}"' for c in columns)
    expected = f"SELECT {cols} FROM read_parquet('{parquet}') WHERE {where}"
    n_expected = con.execute(f"SELECT count(*) FROM ({expected})").fetchone()[0]
    diff = con.execute(
        f"SELECT count(*) FROM ((SELECT {cols} FROM got EXCEPT ALL {expected}) "
        f"UNION ALL ({expected} EXCEPT ALL SELECT {cols} FROM got))"
    ).fetchone()[0]
    return got.num_rows, n_expected, diff


def set_faults(endpoint: str, config: dict) -> None:
    """Configures the emulator's fault injection (`POST /_emulator/faults`)."""
    request = urllib.request.Request(f"{endpoint}/_emulator/faults",
                                     data=json.dumps(config).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoints", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--bucket", required=True)
    ap.add_argument("--access", required=True)
    ap.add_argument("--secret", required=True)
    args = ap.parse_args()
    endpoints = args.endpoints.split(",")
    parquet = f"{args.data}/demo/sensors.parquet"
    failures = 0

    def check(ok: bool, what: str):
        nonlocal failures
        print(("ok   " if ok else "FAIL ") + what, flush=True)
        if not ok:
            failures += 1

    # A wrong secret is refused at connect (the version probe is signed too).
    try:
        vastdb.connect(endpoint=endpoints[0], access=args.access, secret=args.secret + "x")
        check(False, "wrong secret is refused")
    except errors.Forbidden:
        check(True, "wrong secret is refused with Forbidden")

    session = vastdb.connect(endpoint=endpoints[0], access=args.access, secret=args.secret)
    with session.transaction() as tx:
        bucket = tx.bucket(args.bucket)
        check([s.name for s in bucket.schemas()] == ["demo"], "schemas == ['demo']")
        schema = bucket.schema("demo")
        check(sorted(t.name for t in schema.tables()) == ["orders", "sensors"], "tables listed")
        try:
            tx.bucket(args.bucket + "-missing")
            check(False, "missing bucket")
        except errors.MissingBucket:
            check(True, "missing bucket raises MissingBucket")
        table = schema.table("sensors")
        expected_schema = pq.read_schema(parquet)
        check(table.columns().names == expected_schema.names
              and table.columns().types == expected_schema.types,
              "columns (names and types) match the Parquet schema")
        n = duckdb.execute(f"SELECT count(*) FROM read_parquet('{parquet}')").fetchone()[0]
        check(table.get_stats().num_rows == n, f"stats.num_rows == {n}")

    configs = [
        ("default", QueryConfig()),
        ("1 split, 1 sub-split", QueryConfig(num_splits=1, num_sub_splits=1)),
        ("8 splits, 8 sub-splits, rgps 1",
         QueryConfig(num_splits=8, num_sub_splits=8, num_row_groups_per_sub_split=1)),
        ("3 splits, 2 sub-splits, paging 5000 rows, 2 endpoints",
         QueryConfig(num_splits=3, num_sub_splits=2, num_row_groups_per_sub_split=1,
                     limit_rows_per_sub_split=5000, data_endpoints=endpoints)),
        # The transaction was begun on endpoints[0]; the second emulator must accept it.
        ("5 splits, 4 sub-splits, paging 20000 rows, 2 endpoints",
         QueryConfig(num_splits=5, num_sub_splits=4, num_row_groups_per_sub_split=1,
                     limit_rows_per_sub_split=20000, data_endpoints=endpoints)),
    ]
    columns = ["ts", "sensor_id", "region", "temperature", "humidity", "status"]
    with session.transaction() as tx:
        table = tx.bucket(args.bucket).schema("demo").table("sensors")
        for cname, config in configs:
            for name, predicate, where in cases(table):
                start = time.time()
                got = table.select(columns=columns, predicate=predicate, config=config).read_all()
                rows, expected, diff = same_rows(got, parquet, columns, where)
                check(rows == expected and diff == 0,
                      f"[{cname}] {name}: {rows} rows (duckdb {expected}, differing {diff}) "
                      f"in {time.time() - start:.2f}s")
        # Projection: a subset in a different order, and a predicate-only column.
        got = table.select(columns=["status", "sensor_id"],
                           predicate=table["humidity"] > 85).read_all()
        check(got.schema.names == ["status", "sensor_id"], "projection keeps request order")
        rows, expected, diff = same_rows(got, parquet, ["status", "sensor_id"], "humidity > 85")
        check(rows == expected and diff == 0, f"predicate-only column: {rows} rows")

    # Faults on the second emulator: dropped connections mid-response and 503 SlowDown. The SDK
    # retries the split from its last complete pages; no row may be lost or repeated.
    faults = [
        ("connection dropped after 10 frames, twice", {"seed": 7, "drop_after_frames": 10, "times": 2}),
        ("503 SlowDown, twice", {"seed": 7, "error_rate": 1.0, "error_status": 503, "times": 2}),
    ]
    for fname, fault in faults:
        set_faults(endpoints[-1], fault)
        config = QueryConfig(num_splits=2, num_sub_splits=3, num_row_groups_per_sub_split=1,
                             limit_rows_per_sub_split=7000, data_endpoints=[endpoints[-1]])
        with session.transaction() as tx:
            table = tx.bucket(args.bucket).schema("demo").table("sensors")
            start = time.time()
            got = table.select(columns=columns, predicate=table["sensor_id"] < 10,
                               config=config).read_all()
            rows, expected, diff = same_rows(got, parquet, columns, "sensor_id < 10")
            check(rows == expected and diff == 0,
                  f"[fault: {fname}] {rows} rows (duckdb {expected}, differing {diff}) "
                  f"in {time.time() - start:.2f}s")
        set_faults(endpoints[-1], {})

    print(f"{failures} failures", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
