#!/usr/bin/env python3
"""Capture the official VAST DB SDK's query_data request bodies (and headers, and
SigV4 signatures) for a fixed list of representative queries, without a server.

Why: the Rust client's golden test must show that its request bodies decode to the
same relation (schema, projection positions, filter tree) as the SDK's. The SDK's
body builder, `vastdb._internal.build_query_data_request(schema, predicate,
field_names)`, is a pure function: it needs an Arrow schema and an ibis predicate
bound to an ibis table of that schema (exactly what `Table.select` passes it), and
no connection. The header builder `VastdbApi._build_query_data_headers` and the
signer (`aws_requests_auth.AWSRequestsAuth`) are pure as well once the clock is
pinned.

Usage:
    python tests/sdk/capture_bodies.py OUT_DIR

Writes, for every case NAME:
    OUT_DIR/NAME.bin    the exact request body bytes the SDK sends
    OUT_DIR/NAME.json   the body decoded (with the SDK's own generated flatbuffers
                        readers) into a canonical JSON tree -- see `decode_relation`
and OUT_DIR/index.json (case list: columns, predicate text, body sha256, or the
error the SDK raises for that predicate), OUT_DIR/headers.json (query_data request
headers for several QueryConfig variants) and OUT_DIR/sigv4.json (signing vectors).

Determinism: columns used only by the predicate are appended to Source.schema in
Python *set* order (build_query_data_request: `column_names_in_predicate -
set(queried_columns)`), which depends on PYTHONHASHSEED when there are two or more
of them. This script re-executes itself with PYTHONHASHSEED=0, and the JSON form
also names every referenced leaf by its column path so a comparison can ignore that
order (compare `filter_by_name` / `projection_by_name`, not raw positions, when the
predicate uses >= 2 non-projected columns).
"""

import datetime
import hashlib
import json
import os
import sys

if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

import ibis  # noqa: E402
import pyarrow as pa  # noqa: E402
import requests  # noqa: E402

import vastdb  # noqa: E402
from vastdb import _internal  # noqa: E402
from vastdb.vast_flatbuf.org.apache.arrow.computeir.flatbuf import (  # noqa: E402
    Call as fb_call,
    Expression as fb_expr,
    FieldIndex as fb_field_index,
    FieldRef as fb_field_ref,
    Literal as fb_literal,
    Relation as fb_relation,
    Source as fb_source,
)
from vastdb.vast_flatbuf.org.apache.arrow.computeir.flatbuf import (  # noqa: E402
    BinaryLiteral, BooleanLiteral, DateLiteral, DecimalLiteral, Float16Literal,
    Float32Literal, Float64Literal, Int8Literal, Int16Literal, Int32Literal,
    Int64Literal, StringLiteral, TimeLiteral, TimestampLiteral, UInt8Literal,
    UInt16Literal, UInt32Literal, UInt64Literal,
)
from vastdb.vast_flatbuf.org.apache.arrow.computeir.flatbuf.Deref import Deref  # noqa: E402
from vastdb.vast_flatbuf.org.apache.arrow.computeir.flatbuf.ExpressionImpl import ExpressionImpl  # noqa: E402
from vastdb.vast_flatbuf.org.apache.arrow.computeir.flatbuf.LiteralImpl import LiteralImpl  # noqa: E402
from vastdb.vast_flatbuf.org.apache.arrow.computeir.flatbuf.RelationImpl import RelationImpl  # noqa: E402
from vastdb.vast_flatbuf.org.apache.arrow.flatbuf import (  # noqa: E402
    Date as fb_date, Decimal as fb_decimal, FixedSizeBinary as fb_fsb,
    FixedSizeList as fb_fsl, FloatingPoint as fb_fp, Int as fb_int,
    Time as fb_time, Timestamp as fb_ts,
)
from vastdb.vast_flatbuf.org.apache.arrow.flatbuf.Type import Type  # noqa: E402

# ----------------------------------------------------------------------------- data

# One table with every type the read path supports, plus nested columns so that
# depth-first leaf numbering is exercised (st -> st.x, st.y ; l -> l.item).
SCHEMA = pa.schema([
    ("id", pa.int64()),
    ("i8", pa.int8()), ("i16", pa.int16()), ("i32", pa.int32()),
    ("u8", pa.uint8()), ("u16", pa.uint16()), ("u32", pa.uint32()), ("u64", pa.uint64()),
    ("f32", pa.float32()), ("f64", pa.float64()),
    ("name", pa.utf8()), ("blob", pa.binary()), ("flag", pa.bool_()),
    ("price", pa.decimal128(12, 2)),
    ("day", pa.date32()),
    ("ts_s", pa.timestamp("s")), ("ts_ms", pa.timestamp("ms")),
    ("ts_us", pa.timestamp("us")), ("ts_ns", pa.timestamp("ns")),
    ("ts_tz", pa.timestamp("us", tz="UTC")),
    ("t32", pa.time32("ms")), ("t64", pa.time64("us")),
    ("st", pa.struct([("x", pa.int32()), ("y", pa.utf8())])),
    ("l", pa.list_(pa.int16())),
    pa.field("nn", pa.int32(), nullable=False),
])
# Not here: fixed_size_binary, large_string, large_binary, date64, duration, dictionary:
# ibis (or the SDK's own type mapping) rejects them, so the SDK cannot even load such a
# table (TableMetadata.arrow_schema setter -> validate_ibis_support_schema) or build a
# query_data body for it (_internal.get_field_type raises ValueError).

T = ibis.table(ibis.Schema.from_pyarrow(SCHEMA), "bucket/schema/table")

# (name, projected columns or None for all, predicate or None)
CASES = [
    ("all_columns_no_filter", None, None),
    ("two_columns_no_filter", ["name", "id"], None),
    ("nested_projection", ["st", "l", "id"], None),
    ("empty_projection_count", [], None),
    ("eq_int64", ["id", "name"], T["id"] == 42),
    ("ne_int64", ["id"], T["id"] != 42),
    ("lt_le_gt_ge", ["id"], (T["id"] < 10) & (T["i32"] <= 20) & (T["i16"] > -3) & (T["i8"] >= 1)),
    ("unsigned", ["u8"], (T["u8"] == 200) & (T["u16"] > 60000) & (T["u32"] < 4000000000) & (T["u64"] >= 2**62)),
    ("floats", ["f64"], (T["f32"] > 1.5) & (T["f64"] <= -2.25)),
    ("string_eq", ["name"], T["name"] == "alice"),
    ("binary_eq", ["blob"], T["blob"] == b"\x00\x01\xff"),
    ("bool_eq", ["flag"], T["flag"] == True),  # noqa: E712
    ("decimal_ge", ["price"], T["price"] >= 12.5),
    ("date_between", ["day"], T["day"].between(datetime.date(2024, 1, 1), datetime.date(2024, 12, 31))),
    ("timestamps", ["ts_s"], (T["ts_s"] > datetime.datetime(2024, 1, 1)) & (T["ts_ms"] < datetime.datetime(2024, 1, 2))
        & (T["ts_us"] >= datetime.datetime(2024, 1, 1, 0, 0, 1)) & (T["ts_ns"] <= datetime.datetime(2024, 1, 3))),
    ("time_cmp", ["t32"], (T["t32"] > datetime.time(12, 0)) & (T["t64"] < datetime.time(13, 30, 0, 5))),
    ("isin", ["id"], T["id"].isin([1, 2, 3])),
    ("isin_strings", ["name"], T["name"].isin(["a", "b"])),
    ("between_int", ["id"], T["id"].between(10, 20)),
    ("startswith", ["name"], T["name"].startswith("ab")),
    ("startswith_empty", ["name"], T["name"].startswith("")),
    ("contains", ["name"], T["name"].contains("lic")),
    ("isnull", ["name"], T["name"].isnull()),
    ("not_isnull", ["name"], ~T["name"].isnull()),
    ("or_same_column", ["id"], (T["id"] == 1) | (T["id"] > 100) | T["id"].isnull()),
    ("and_of_ors", ["id", "name"], ((T["id"] < 5) | (T["id"] > 10)) & ((T["name"] == "x") | T["name"].startswith("y"))),
    ("filter_only_column", ["id"], T["name"] == "bob"),
    ("two_filter_only_columns", ["id"], (T["name"] == "bob") & (T["f64"] > 0.5)),
    ("struct_leaf_filter", ["id"], T["st"]["x"] == 7),
    ("non_nullable_literal_type", ["nn"], T["nn"] > 3),
    ("deferred_predicate", ["id"], ibis._["id"] > 5),
    # Things the SDK refuses (NotImplementedError): the caller must filter after the scan.
    ("unsupported_or_across_columns", ["id"], (T["id"] == 1) | (T["name"] == "a")),
    ("unsupported_not_eq", ["id"], ~(T["id"] == 1)),
    ("unsupported_notnull_method", ["id"], T["id"].notnull()),
    ("unsupported_notin", ["id"], T["id"].notin([1, 2])),
    ("unsupported_isin_empty", ["id"], T["id"].isin([])),
    ("unsupported_column_vs_column", ["id"], T["id"] == T["i32"]),
]

# ------------------------------------------------------------------------- decoding

LITERAL_READERS = {
    LiteralImpl.BooleanLiteral: BooleanLiteral.BooleanLiteral,
    LiteralImpl.Int8Literal: Int8Literal.Int8Literal,
    LiteralImpl.Int16Literal: Int16Literal.Int16Literal,
    LiteralImpl.Int32Literal: Int32Literal.Int32Literal,
    LiteralImpl.Int64Literal: Int64Literal.Int64Literal,
    LiteralImpl.UInt8Literal: UInt8Literal.UInt8Literal,
    LiteralImpl.UInt16Literal: UInt16Literal.UInt16Literal,
    LiteralImpl.UInt32Literal: UInt32Literal.UInt32Literal,
    LiteralImpl.UInt64Literal: UInt64Literal.UInt64Literal,
    LiteralImpl.DateLiteral: DateLiteral.DateLiteral,
    LiteralImpl.TimeLiteral: TimeLiteral.TimeLiteral,
    LiteralImpl.TimestampLiteral: TimestampLiteral.TimestampLiteral,
    LiteralImpl.DecimalLiteral: DecimalLiteral.DecimalLiteral,
    LiteralImpl.Float16Literal: Float16Literal.Float16Literal,
    LiteralImpl.Float32Literal: Float32Literal.Float32Literal,
    LiteralImpl.Float64Literal: Float64Literal.Float64Literal,
    LiteralImpl.StringLiteral: StringLiteral.StringLiteral,
    LiteralImpl.BinaryLiteral: BinaryLiteral.BinaryLiteral,
}
NAME_OF = {v: k for k, v in vars(LiteralImpl).items() if isinstance(v, int)}
TYPE_NAME = {v: k for k, v in vars(Type).items() if isinstance(v, int)}


def _table(union_table, cls):
    obj = cls()
    obj.Init(union_table.Bytes, union_table.Pos)
    return obj


def decode_type(field):
    tt = field.TypeType()
    out = {"type": TYPE_NAME[tt]}
    t = field.Type()
    if tt == Type.Int:
        x = _table(t, fb_int.Int); out.update(bit_width=x.BitWidth(), signed=bool(x.IsSigned()))
    elif tt == Type.FloatingPoint:
        out["precision"] = _table(t, fb_fp.FloatingPoint).Precision()
    elif tt == Type.Decimal:
        x = _table(t, fb_decimal.Decimal); out.update(precision=x.Precision(), scale=x.Scale(), bit_width=x.BitWidth())
    elif tt == Type.Date:
        out["unit"] = _table(t, fb_date.Date).Unit()
    elif tt == Type.Time:
        x = _table(t, fb_time.Time); out.update(unit=x.Unit(), bit_width=x.BitWidth())
    elif tt == Type.Timestamp:
        x = _table(t, fb_ts.Timestamp); tz = x.Timezone()
        out.update(unit=x.Unit(), timezone=tz.decode() if tz is not None else None)
    elif tt == Type.FixedSizeBinary:
        out["byte_width"] = _table(t, fb_fsb.FixedSizeBinary).ByteWidth()
    elif tt == Type.FixedSizeList:
        out["list_size"] = _table(t, fb_fsl.FixedSizeList).ListSize()
    return out


def decode_field(field):
    name = field.Name()
    out = {"name": name.decode() if name is not None else None, "nullable": bool(field.Nullable())}
    out.update(decode_type(field))
    if field.ChildrenLength():
        out["children"] = [decode_field(field.Children(i)) for i in range(field.ChildrenLength())]
    return out


def decode_literal(lit):
    kind = lit.ImplType()
    out = {"literal": NAME_OF.get(kind, kind)}
    reader = LITERAL_READERS.get(kind)
    if reader is not None:
        v = _table(lit.Impl(), reader)
        if kind == LiteralImpl.StringLiteral:
            out["value_hex"] = v.Value().hex()  # raw bytes: may not be valid UTF-8
            try:
                out["value"] = v.Value().decode()
            except UnicodeDecodeError:
                pass
        elif kind in (LiteralImpl.BinaryLiteral, LiteralImpl.DecimalLiteral):
            out["value_hex"] = bytes(v.ValueAsNumpy().astype("uint8")).hex()
        else:
            out["value"] = v.Value()
    t = lit.Type()
    out["literal_type"] = decode_field(t) if t is not None else None
    return out


def decode_expr(expr, names):
    kind = expr.ImplType()
    if kind == ExpressionImpl.Call:
        c = _table(expr.Impl(), fb_call.Call)
        return {"call": c.Name().decode(),
                "args": [decode_expr(c.Arguments(i), names) for i in range(c.ArgumentsLength())]}
    if kind == ExpressionImpl.FieldRef:
        r = _table(expr.Impl(), fb_field_ref.FieldRef)
        assert r.RefType() == Deref.FieldIndex, r.RefType()
        pos = _table(r.Ref(), fb_field_index.FieldIndex).Position()
        return {"field": pos, "field_name": names[pos]}
    if kind == ExpressionImpl.Literal:
        return decode_literal(_table(expr.Impl(), fb_literal.Literal))
    return {"unknown_expression_impl": kind}


def node_paths(fields, prefix=""):
    """Depth-first pre-order names of every node (parents included), as positions."""
    out = []
    for f in fields:
        path = f"{prefix}{f['name'] if f['name'] is not None else '?'}"
        out.append(path)
        out.extend(node_paths(f.get("children", []), path + "."))
    return out


def decode_relation(body: bytes) -> dict:
    rel = fb_relation.Relation.GetRootAs(body, 0)
    assert rel.ImplType() == RelationImpl.Source, rel.ImplType()
    src = _table(rel.Impl(), fb_source.Source)
    schema = src.Schema()
    fields = [decode_field(schema.Fields(i)) for i in range(schema.FieldsLength())]
    names = node_paths(fields)
    projection = [src.Projection(i).Position() for i in range(src.ProjectionLength())]
    filt = decode_expr(src.Filter(), names)

    def by_name(e):
        if "call" in e:
            return {"call": e["call"], "args": [by_name(a) for a in e["args"]]}
        if "field" in e:
            return {"field_name": e["field_name"]}
        return e

    name = src.Name()
    return {
        "source_name": name.decode() if name is not None else None,
        "source_id_present": src.Id() is not None,
        "schema": fields,
        "node_positions": {n: i for i, n in enumerate(names)},
        "projection": projection,
        "projection_by_name": [names[p] for p in projection],
        "filter": filt,
        "filter_by_name": by_name(filt),
    }

# ------------------------------------------------------------------ headers & sigv4


def dummy_api():
    # version_check=False: no network at construction.
    return _internal.VastdbApi("AKIDEXAMPLE", "SECRET", endpoints=["http://127.0.0.1:9"],
                               max_entities_per_page=10_000, version_check=False)


def capture_headers(body: bytes) -> list:
    api = dummy_api()
    variants = [
        # what SplitWorker.__iter__ passes for the first request of split 0 with QueryConfig()
        dict(name="default_first_request", txid=0x1234, split=(0, 1, 8), num_sub_splits=4, limit_rows=128 * 1024,
             schedule_id=None, sub_split_start_row_ids=[(i, 0) for i in range(4)], enable_sorted_projections=True),
        dict(name="split_3_of_8_two_subsplits_paging", txid=7, split=(3, 8, 8), num_sub_splits=2, limit_rows=1000,
             schedule_id=5, sub_split_start_row_ids=[(0, 1000), (1, _internal.TABULAR_INVALID_ROW_ID)],
             enable_sorted_projections=False),
    ]
    out = []
    for v in variants:
        h = api._build_query_data_headers(
            v["txid"], [], body, v["split"], v["num_sub_splits"], "string", "string",
            v["enable_sorted_projections"], v["limit_rows"], v["schedule_id"], 0, None, None,
            v["sub_split_start_row_ids"])
        out.append({"variant": v["name"], "headers": h})
    return out


class _FixedDatetime(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return cls(2024, 5, 17, 12, 34, 56)


def capture_sigv4() -> list:
    """Sign requests exactly as the SDK's session does, with the clock pinned."""
    import aws_requests_auth.aws_auth as aws_auth
    real = aws_auth.datetime.datetime
    aws_auth.datetime.datetime = _FixedDatetime
    try:
        api = dummy_api()
        cases = [
            ("GET", api._url(command="transaction"), {"tabular-get-vast-version": "true"}, b""),
            ("POST", api._url(command="transaction"), api._fill_common_headers(), b""),
            ("HEAD", api._url(bucket="bkt"), {}, b""),
            ("GET", api._url(bucket="bkt", command="schema"), api._fill_common_headers(txid=99), b""),
            ("GET", api._url(bucket="bkt", schema="s1", command="table"), api._fill_common_headers(txid=99), b""),
            ("GET", api._url(bucket="bkt", schema="s1", table="t1", command="stats"), api._fill_common_headers(txid=99), b""),
            ("GET", api._url(bucket="bkt", schema="s1", table="t1", command="data", url_params={"name": "proj 1"}),
             api._fill_common_headers(txid=99), b"\x01\x02\x03"),
        ]
        out = []
        for method, url, headers, body in cases:
            session = api._session_create(url)
            req = requests.Request(method=method, url=str(url), headers=headers, data=body or None)
            prepared = session.prepare_request(req)
            out.append({
                "method": method,
                "url": prepared.url,
                "body_hex": body.hex(),
                "access_key": "AKIDEXAMPLE",
                "secret_key": "SECRET",
                "region": "",
                "service": "s3",
                "host_signed": session.auth.aws_host,
                "amz_date": prepared.headers["x-amz-date"],
                "x_amz_content_sha256": prepared.headers["x-amz-content-sha256"],
                "authorization": prepared.headers["Authorization"],
                "canonical_path": aws_auth.AWSRequestsAuth.get_canonical_path(prepared),
                "canonical_query": aws_auth.AWSRequestsAuth.get_canonical_querystring(prepared),
            })
        return out
    finally:
        aws_auth.datetime.datetime = real

# ---------------------------------------------------------------------------- main


def main(out_dir: str) -> int:
    os.makedirs(out_dir, exist_ok=True)
    index = {"vastdb_version": vastdb.version(), "pyarrow_version": pa.__version__,
             "ibis_version": ibis.__version__, "pythonhashseed": os.environ.get("PYTHONHASHSEED"),
             "schema": [str(f) for f in SCHEMA], "cases": []}
    first_body = None
    for name, columns, predicate in CASES:
        entry = {"name": name, "columns": columns, "predicate": None if predicate is None else str(predicate)}
        try:
            req = _internal.build_query_data_request(
                schema=SCHEMA, predicate=predicate.resolve(T) if isinstance(predicate, ibis.common.deferred.Deferred) else predicate,
                field_names=None if columns is None else list(columns))
        except Exception as e:  # the SDK refuses this predicate
            entry["error"] = f"{type(e).__name__}"
            index["cases"].append(entry)
            continue
        body = bytes(req.serialized)
        first_body = first_body or body
        with open(os.path.join(out_dir, f"{name}.bin"), "wb") as f:
            f.write(body)
        decoded = decode_relation(body)
        decoded["response_schema"] = [str(f) for f in req.response_schema]
        with open(os.path.join(out_dir, f"{name}.json"), "w") as f:
            json.dump(decoded, f, indent=1, sort_keys=True)
        entry.update(body_len=len(body), body_sha256=hashlib.sha256(body).hexdigest())
        index["cases"].append(entry)
    with open(os.path.join(out_dir, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
    with open(os.path.join(out_dir, "headers.json"), "w") as f:
        json.dump(capture_headers(first_body), f, indent=1)
    with open(os.path.join(out_dir, "sigv4.json"), "w") as f:
        json.dump(capture_sigv4(), f, indent=1)
    ok = sum(1 for c in index["cases"] if "error" not in c)
    print(f"wrote {ok} bodies, {len(index['cases']) - ok} refused predicates, headers and sigv4 vectors to {out_dir}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
