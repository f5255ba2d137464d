"""The ADBC Flight SQL driver (adbc_driver_flightsql from PyPI) against a running vastgate.

Usage: flight_sql_adbc.py HOST:PORT DEMO_DIR [TOKEN [OTHER_TOKEN]]
Connects as a BI tool or pandas would, and checks, each answer against DuckDB running the
same SQL over the Parquet files in DEMO_DIR (each table a view demo.<table>):
  - adbc_get_info, adbc_get_objects(depth="all"), adbc_get_table_schema;
  - filtered SELECTs, GROUP BY, a join of two tables, a subquery;
  - a prepared statement executed with two parameter values;
  - bad SQL and forbidden SQL (file reads, COPY, ATTACH, SET) refused, the connection still
    usable after each.
With TOKEN, connects with it as a bearer token (as the README shows), and first checks that
no token and OTHER_TOKEN (a caller without the demo schema) are refused.
Prints "adbc checks passed" at the end; any failure raises.
"""

import math
import os
import sys

import adbc_driver_flightsql.dbapi as flight_sql
import duckdb

addr, demo_dir = sys.argv[1], sys.argv[2]
token = sys.argv[3] if len(sys.argv) > 3 else None
other = sys.argv[4] if len(sys.argv) > 4 else None
tables = sorted(f[: -len(".parquet")] for f in os.listdir(demo_dir) if f.endswith(".parquet"))

referee = duckdb.connect()
referee.execute("CREATE SCHEMA demo")
for table in tables:
    referee.execute(
        f"CREATE VIEW demo.{table} AS SELECT * FROM read_parquet('{demo_dir}/{table}.parquet')"
    )


def canonical(rows):
    def cell(v):
        if isinstance(v, float):
            return "NaN" if math.isnan(v) else f"{v:.9e}"
        return str(v)

    return sorted("|".join(cell(v) for v in row) for row in rows)


def duck(sql, params=None):
    return canonical(referee.execute(sql, params or []).fetchall())




def connect(bearer):
    kwargs = {"adbc.flight.sql.authorization_header": f"Bearer {bearer}"} if bearer else {}
    return flight_sql.connect(f"grpc://{addr}", db_kwargs=kwargs, autocommit=True)


if token:
    for bearer, needle in ((None, "UNAUTHENTICATED"), (other, "demo")):
        try:
            with connect(bearer) as refused_conn, refused_conn.cursor() as c:
                c.execute("SELECT count(*) FROM demo.sensors")
                c.fetchall()
        except flight_sql.Error as err:
            assert needle in str(err), (bearer, str(err))
        else:
            raise AssertionError(f"read demo.sensors with {bearer!r}")
    print("refused without a token and to a caller without the schema")

conn = connect(token)
cur = conn.cursor()


def ours(sql, params=None):
    cur.execute(sql, params)
    return canonical(tuple(r.values()) if isinstance(r, dict) else r for r in cur.fetchall())


info = conn.adbc_get_info()
assert info["vendor_name"] == "vastgate", info
assert info["driver_name"].startswith("ADBC Flight SQL"), info
print("get_info ok:", info["vendor_name"], info.get("vendor_version"))

objects = conn.adbc_get_objects(depth="all").read_all().to_pylist()
listed = {}
for catalog in objects:
    for schema in catalog["catalog_db_schemas"] or []:
        for table in schema["db_schema_tables"] or []:
            columns = [c["column_name"] for c in table["table_columns"] or []]
            listed[(schema["db_schema_name"], table["table_name"])] = columns
for table in tables:
    want = [r[0] for r in referee.execute(f"DESCRIBE demo.{table}").fetchall()]
    assert listed.get(("demo", table)) == want, (table, listed.get(("demo", table)), want)
print("get_objects ok:", sorted(listed))

schema = conn.adbc_get_table_schema("sensors", db_schema_filter="demo")
assert schema.names == [r[0] for r in referee.execute("DESCRIBE demo.sensors").fetchall()]
print("get_table_schema ok:", schema.names)

statements = [
    "SELECT sensor_id, temperature FROM demo.sensors WHERE sensor_id < 5 AND temperature > 20",
    "SELECT region, avg(temperature) AS a, count(*) AS n FROM demo.sensors "
    "WHERE sensor_id < 5 GROUP BY region",
    "SELECT s.region, o.country, count(*) AS n FROM demo.sensors s "
    "JOIN demo.orders o ON s.sensor_id = o.customer_id % 20 "
    "WHERE s.sensor_id = 1 AND s.temperature > 30 AND o.customer_id < 100 GROUP BY ALL",
    "SELECT count(*) FROM demo.sensors WHERE temperature > "
    "(SELECT avg(temperature) FROM demo.sensors WHERE region = 'east')",
]
for sql in statements:
    got, want = ours(sql), duck(sql)
    assert want and got == want, (sql, got[:5], want[:5])
    print("statement ok:", len(got), "rows:", sql[:60])

# A prepared statement, executed with two parameter values.
prepared = "SELECT region, count(*) AS n FROM demo.sensors WHERE sensor_id < ? GROUP BY region"
for value in (3, 9):
    got, want = ours(prepared, (value,)), duck(prepared, [value])
    assert got == want, (value, got, want)
    print("prepared ok with", value, ":", got)

refused = [
    ("SELEC 1", "syntax error"),
    ("SELECT nope FROM demo.sensors", "nope"),
    ("SELECT * FROM read_parquet('/etc/passwd')", "table functions"),
    ("SELECT * FROM read_csv('/etc/passwd')", "table functions"),
    ("COPY demo.sensors TO '/tmp/vastgate-copy.csv'", "only queries"),
    ("ATTACH '/tmp/vastgate-attach.db'", "only queries"),
    ("SET threads = 1", "only queries"),
]
for sql, needle in refused:
    try:
        ours(sql)
    except flight_sql.Error as err:
        assert needle in str(err), (sql, str(err))
    else:
        raise AssertionError(f"accepted: {sql}")
    # The connection stays usable.
    assert ours("SELECT count(*) FROM demo.orders") == duck("SELECT count(*) FROM demo.orders")
    print("refused ok:", sql)
assert not os.path.exists("/tmp/vastgate-copy.csv")

cur.close()
conn.close()
print("adbc checks passed")
