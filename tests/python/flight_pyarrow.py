"""pyarrow.flight against a running vastgate: the client side of the Flight tests.

Usage: flight_pyarrow.py HOST:PORT SENSORS_PARQUET
Checks, each against DuckDB reading the same Parquet file:
  - list_flights shows demo.sensors with its row count;
  - a table read by path;
  - a filtered select cut into 4 splits, all endpoints read in parallel and concatenated;
  - an analytics command (percentiles) and a SQL command;
  - a tampered ticket is refused.
Prints "flight checks passed" at the end; any failure raises.
"""

import concurrent.futures
import json
import sys

import duckdb
import pyarrow as pa
import pyarrow.flight as fl

addr, parquet = sys.argv[1], sys.argv[2]
location = f"grpc://{addr}"
client = fl.connect(location)
src = f"read_parquet('{parquet}')"


def duck(sql):
    return duckdb.sql(sql.replace("FROM s", f"FROM {src}")).fetchall()


def read(endpoint):
    # One connection per endpoint, as a parallel reader would do.
    return fl.connect(location).do_get(endpoint.ticket).read_all()


flights = {tuple(p.decode() if isinstance(p, bytes) else p for p in f.descriptor.path): f
           for f in client.list_flights()}
total = duck("SELECT count(*) FROM s")[0][0]
assert ("demo", "sensors") in flights, flights.keys()
assert flights[("demo", "sensors")].total_records == total
print("list_flights ok:", sorted(flights))

info = client.get_flight_info(fl.FlightDescriptor.for_path("demo", "sensors"))
whole = pa.concat_tables([read(e) for e in info.endpoints])
assert whole.num_rows == total, (whole.num_rows, total)
assert whole.schema.names == ["ts", "sensor_id", "region", "temperature", "humidity", "pressure", "status"]
print("read by path ok:", whole.num_rows, "rows from", len(info.endpoints), "endpoints")

command = {"select": {
    "table": {"schema": "demo", "table": "sensors"},
    "columns": ["ts", "sensor_id", "temperature"],
    "filter": {"and": {"filters": [
        {"compare": {"column": "region", "op": "NE", "value": {"stringValue": "north"}}},
        {"or": {"filters": [
            {"compare": {"column": "temperature", "op": "GE", "value": {"floatValue": 22.5}}},
            {"isNull": {"column": "humidity"}}]}}]}},
    "hints": {"numSplits": 4}}}
info = client.get_flight_info(fl.FlightDescriptor.for_command(json.dumps(command)))
assert len(info.endpoints) == 4, len(info.endpoints)
with concurrent.futures.ThreadPoolExecutor(4) as pool:
    parts = list(pool.map(read, info.endpoints))
got = pa.concat_tables(parts)
got_rows = sorted(zip(got.column("ts").cast(pa.int64()).to_pylist(),
                      got.column("sensor_id").to_pylist(),
                      got.column("temperature").to_pylist()))
want_rows = duck("SELECT epoch_us(ts), sensor_id, temperature FROM s WHERE region <> 'north' "
                 "AND (temperature >= 22.5 OR humidity IS NULL) ORDER BY 1, 2")
assert got_rows == [tuple(r) for r in want_rows], (len(got_rows), len(want_rows))
print("filtered select in 4 parallel splits ok:", len(got_rows), "rows")

command = {"sql": {"table": {"schema": "demo", "table": "sensors"},
                   "sql": "SELECT region, count(*) AS n FROM t GROUP BY region ORDER BY region"}}
info = client.get_flight_info(fl.FlightDescriptor.for_command(json.dumps(command)))
table = read(info.endpoints[0])
assert [tuple(r.values()) for r in table.to_pylist()] == duck(
    "SELECT region, count(*) FROM s GROUP BY region ORDER BY region")
command = {"percentiles": {"table": {"schema": "demo", "table": "sensors"},
                           "groupBy": ["region"], "valueColumn": "temperature",
                           "quantiles": [0.5]}}
info = client.get_flight_info(fl.FlightDescriptor.for_command(json.dumps(command)))
table = read(info.endpoints[0])
assert table.num_rows == 4, table
assert table.column_names == ["region", "n", "values"], table.column_names
def floats(value):
    """Every float in a value, looking inside lists and structs."""
    if isinstance(value, float):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from floats(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from floats(v)


medians = sorted(floats(table.to_pylist()))
want = sorted(r[0] for r in duck("SELECT quantile_cont(temperature, 0.5) FROM s GROUP BY region"))
assert all(any(abs(m - w) < 1e-9 for m in medians) for w in want), (medians, want)
print("sql and percentiles commands ok")

ticket = bytearray(info.endpoints[0].ticket.ticket)
ticket[3] ^= 0x01
try:
    client.do_get(fl.Ticket(bytes(ticket))).read_all()
except (fl.FlightError, pa.ArrowInvalid) as err:
    assert "altered" in str(err), err
    print("tampered ticket refused:", type(err).__name__)
else:
    raise AssertionError("a tampered ticket was accepted")

print("flight checks passed")
