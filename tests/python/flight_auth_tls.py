"""pyarrow.flight over TLS with tokens: the client side of the Flight security test.

Usage: flight_auth_tls.py HOST:PORT CA_PEM READER_TOKEN ADMIN_TOKEN SENSORS_PARQUET
Checks:
  - without a token, calls are refused as unauthenticated, and so is a wrong password;
  - authenticate_basic_token(name, token) returns the bearer header, and with it every split
    of demo.sensors reads, together equal to DuckDB's row count of the Parquet file;
  - a ticket issued to the reader is refused to the admin (PERMISSION_DENIED).
Prints "flight auth checks passed" at the end; any failure raises.
"""

import sys

import duckdb
import pyarrow as pa
import pyarrow.flight as fl

addr, ca_file, reader_token, admin_token, parquet = sys.argv[1:6]
with open(ca_file, "rb") as f:
    ca = f.read()
client = fl.FlightClient(f"grpc+tls://{addr}", tls_root_certs=ca)
descriptor = fl.FlightDescriptor.for_path("demo", "sensors")

try:
    client.get_flight_info(descriptor)
    raise AssertionError("a call without a token was served")
except fl.FlightUnauthenticatedError as err:
    assert reader_token not in str(err)
    print("no token: unauthenticated ok")

try:
    client.authenticate_basic_token("dashboard", reader_token + "x")
    raise AssertionError("a wrong token passed the handshake")
except fl.FlightUnauthenticatedError:
    print("wrong token: unauthenticated ok")

header = client.authenticate_basic_token("dashboard", reader_token)
assert header[0] == b"authorization", header
assert header[1] == b"Bearer " + reader_token.encode(), header
reader = fl.FlightCallOptions(headers=[header])
info = client.get_flight_info(descriptor, reader)
table = pa.concat_tables([client.do_get(e.ticket, reader).read_all() for e in info.endpoints])
total = duckdb.sql(f"SELECT count(*) FROM read_parquet('{parquet}')").fetchall()[0][0]
assert table.num_rows == total, (table.num_rows, total)
print("reader read", table.num_rows, "rows from", len(info.endpoints), "endpoints over TLS")

admin = fl.FlightCallOptions(headers=[client.authenticate_basic_token("ops", admin_token)])
try:
    client.do_get(info.endpoints[0].ticket, admin).read_all()
    raise AssertionError("another caller's ticket was accepted")
except fl.FlightUnauthorizedError as err:
    assert "another caller" in str(err), err
    print("another caller's ticket: permission denied ok")

print("flight auth checks passed")
