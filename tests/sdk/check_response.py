#!/usr/bin/env python3
"""Feed a query_data response body through the official SDK's own parser.

    python tests/sdk/check_response.py --selftest
        builds a synthetic response (two interleaved sub-splits, a struct column,
        a keep-alive, the done marker) and shows what the SDK makes of it: the
        reference for what an emulator must send.
    python tests/sdk/check_response.py BODY_FILE SCHEMA_IPC_FILE
        parses a captured response body (e.g. dumped by the emulator) against the
        response schema (an Arrow IPC stream/schema file holding the *projected*
        columns, in projection order) and prints (stream_id, next_row_id, rows)
        for each completed page, or the SDK's exception.

Framing reminder (see docs/vast-protocol-notes.md, "query_data response"):
    frame   = u32 LE stream_id | u64 LE next_row_id | ONE Arrow IPC message
    special = u32 0xFFFFFFFF (keep-alive, nothing follows)
              u32 0xFFFFFFFE (done; the SDK reads and ignores the rest of the body)
              u32 0xFFFFFFFD | u64 error_code | u32 len(=0)   (failed)
Each leaf column of a page is its own IPC stream (schema, batch..., end-of-stream)
sent under the page's stream_id; the leaves of one stream_id must arrive one after
another, in projection leaf order.
"""

import io
import struct
import sys

import pyarrow as pa

from vastdb import _internal

EOS = b"\xff\xff\xff\xff\x00\x00\x00\x00"


def ipc_messages(column_array: pa.Array, field: pa.Field) -> list:
    """The IPC messages (schema, one record batch) of a one-column stream."""
    sink = pa.BufferOutputStream()
    schema = pa.schema([field])
    with pa.ipc.new_stream(sink, schema) as w:
        w.write_batch(pa.record_batch([column_array], schema=schema))
    reader = pa.ipc.MessageReader.open_stream(pa.BufferReader(sink.getvalue()))
    out = []
    while True:
        try:
            out.append(reader.read_next_message().serialize().to_pybytes())
        except StopIteration:
            return out


def frame(stream_id: int, next_row_id: int, message: bytes) -> bytes:
    return struct.pack("<LQ", stream_id, next_row_id) + message


def leaf_columns(table: pa.Table):
    """Split a table into VAST's per-leaf columns: struct<a,b> -> struct<a>, struct<b>."""
    for field, col in zip(table.schema, table.columns):
        arr = col.combine_chunks()
        if pa.types.is_struct(field.type):
            for i, child in enumerate(field.type):
                sub = pa.StructArray.from_arrays([arr.field(i)], fields=[child], mask=arr.is_null())
                yield pa.field(field.name, pa.struct([child]), field.nullable), sub
        else:
            yield field, arr


def page_frames(stream_id: int, next_row_id: int, table: pa.Table) -> list:
    frames = []
    for field, arr in leaf_columns(table):
        for msg in ipc_messages(arr, field):
            frames.append(frame(stream_id, next_row_id, msg))
        frames.append(frame(stream_id, next_row_id, EOS))
    return frames


def selftest() -> int:
    schema = pa.schema([("id", pa.int64()), ("st", pa.struct([("x", pa.int32()), ("y", pa.utf8())])),
                        ("name", pa.utf8())])
    page_a = pa.table({"id": [1, 2, 3], "st": [{"x": 1, "y": "a"}, None, {"x": 3, "y": None}],
                       "name": ["p", None, "r"]}, schema=schema)
    page_b = pa.table({"id": [10], "st": [{"x": 10, "y": "z"}], "name": ["q"]}, schema=schema)
    empty = schema.empty_table()
    fa = page_frames(0, 3, page_a)                               # sub-split 0: rows 0..2, resume at 3
    fb = page_frames(1, _internal.TABULAR_INVALID_ROW_ID, page_b)  # sub-split 1: last page
    fc = page_frames(2, _internal.TABULAR_INVALID_ROW_ID, empty)   # sub-split 2: nothing matched
    body = bytearray()
    # interleave frames of different stream ids; a keep-alive in the middle
    for i in range(max(len(fa), len(fb), len(fc))):
        for f in (fa, fb, fc):
            if i < len(f):
                body += f[i]
        if i == 2:
            body += struct.pack("<L", _internal.TABULAR_KEEP_ALIVE_STREAM_ID)
    body += struct.pack("<L", _internal.TABULAR_QUERY_DATA_COMPLETED_STREAM_ID)
    got = list(_internal.parse_query_data_response(io.BytesIO(bytes(body)), schema))
    for stream_id, next_row_id, table in got:
        print(f"stream_id={stream_id} next_row_id={next_row_id} rows={table.num_rows} {table.to_pylist()}")
    assert sorted((s, n, t.num_rows) for s, n, t in got) == [
        (0, 3, 3), (1, _internal.TABULAR_INVALID_ROW_ID, 1), (2, _internal.TABULAR_INVALID_ROW_ID, 0)], got
    assert got[[s for s, _, _ in got].index(0)][2].equals(page_a)
    # failure frame
    bad = bytes(fa[0]) + struct.pack("<LQL", _internal.TABULAR_QUERY_DATA_FAILED_STREAM_ID, 17, 0)
    try:
        list(_internal.parse_query_data_response(io.BytesIO(bad), schema))
    except _internal.QueryDataInternalError as e:
        print("failure frame ->", type(e).__name__, e)
    # truncated body (stream open at EOF)
    try:
        list(_internal.parse_query_data_response(io.BytesIO(b"".join(fa[:3])), schema))
    except EOFError as e:
        print("truncated ->", type(e).__name__)
    print("selftest ok")
    return 0


def check(body_path: str, schema_path: str) -> int:
    with pa.memory_map(schema_path) as src:
        schema = pa.ipc.read_schema(src)
    with open(body_path, "rb") as f:
        for stream_id, next_row_id, table in _internal.parse_query_data_response(f, schema):
            print(f"stream_id={stream_id} next_row_id={next_row_id} rows={table.num_rows}")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--selftest"]:
        sys.exit(selftest())
    if len(sys.argv) == 3:
        sys.exit(check(sys.argv[1], sys.argv[2]))
    print(__doc__)
    sys.exit(2)
