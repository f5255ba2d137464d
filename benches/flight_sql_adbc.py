"""Times Flight SQL statements through the ADBC driver next to DuckDB's official Python build
reading the same Parquet file, in one process, alternating.

Usage: flight_sql_adbc.py HOST:PORT SENSORS_PARQUET ROUNDS
Prints one line per statement: name, best ADBC seconds, best DuckDB seconds, rows, and the
client CPU seconds per ADBC run (this process, from getrusage).
"""

import resource
import sys
import time

import adbc_driver_flightsql.dbapi as flight_sql
import duckdb

addr, parquet, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
STATEMENTS = {
    "group_by": "SELECT region, avg(temperature) AS avg_t FROM {t} WHERE sensor_id < 5 "
    "GROUP BY region",
    "read_2_columns": "SELECT ts, temperature FROM {t} WHERE sensor_id < 5",
    # No row group can hold a match: the fixed cost of a statement.
    "pruned_to_nothing": "SELECT ts FROM {t} WHERE sensor_id < 0",
    # Every row into the engine.
    "group_by_all_rows": "SELECT region, avg(temperature) AS avg_t FROM {t} GROUP BY region",
}

duck = duckdb.connect(config={"threads": 2})
duck.execute(f"CREATE VIEW sensors AS SELECT * FROM read_parquet('{parquet}')")
conn = flight_sql.connect(f"grpc://{addr}", autocommit=True)


def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def adbc(sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetch_arrow_table().num_rows


def referee(sql):
    return duck.execute(sql).to_arrow_table().num_rows


for name, template in STATEMENTS.items():
    ours, theirs, cpus, rows = [], [], [], None
    for _ in range(rounds):
        started, before = time.perf_counter(), cpu()
        rows = adbc(template.format(t="demo.sensors"))
        ours.append(time.perf_counter() - started)
        cpus.append(cpu() - before)
        started = time.perf_counter()
        want = referee(template.format(t="sensors"))
        theirs.append(time.perf_counter() - started)
        assert rows == want, (name, rows, want)
    print(name, min(ours), min(theirs), rows, min(cpus))
