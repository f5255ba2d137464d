//! The independent side of every comparison: DuckDB reading the Parquet files itself, and a
//! decoder for our Arrow IPC chunks.

use arrow::{
    array::{Array, AsArray, RecordBatch},
    datatypes::{Int32Type, TimestampMicrosecondType},
    ipc::reader::StreamReader,
};
use futures::StreamExt;
use vastgate::proto::ArrowChunk;

use crate::harness::parquet_path;

/// Rows of `demo.sensors` matching `where_sql`, as sorted `(ts µs, sensor_id)` keys.
pub(crate) fn duckdb_sensor_keys(where_sql: &str) -> Vec<(i64, i32)> {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let sql = format!(
        "SELECT epoch_us(ts), sensor_id FROM read_parquet('{}') WHERE {where_sql} ORDER BY 1, 2",
        parquet_path("sensors").display()
    );
    let mut stmt = conn.prepare(&sql).unwrap();
    stmt.query_map([], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i32>(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// `SELECT count(*)` with a WHERE clause, by DuckDB.
pub(crate) fn duckdb_count(table: &str, where_sql: &str) -> u64 {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let sql = format!(
        "SELECT count(*) FROM read_parquet('{}') WHERE {where_sql}",
        parquet_path(table).display()
    );
    conn.query_row(&sql, [], |row| row.get::<_, i64>(0))
        .unwrap() as u64
}

/// `(region, aggregate)` of `demo.sensors` by DuckDB, in region order.
pub(crate) fn duckdb_region_counts(aggregate: &str) -> Vec<(String, i64)> {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let sql = format!(
        "SELECT region, {aggregate} FROM read_parquet('{}') GROUP BY region ORDER BY region",
        parquet_path("sensors").display()
    );
    let mut stmt = conn.prepare(&sql).unwrap();
    stmt.query_map([], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// Rows in the Arrow IPC stream that `chunks` (a Select's messages, in order) carry.
pub(crate) fn ipc_rows(chunks: impl IntoIterator<Item = ArrowChunk>) -> u64 {
    let bytes: Vec<u8> = chunks.into_iter().flat_map(|c| c.data).collect();
    let reader =
        StreamReader::try_new(std::io::Cursor::new(bytes), None).expect("valid IPC stream");
    reader
        .map(|b| b.expect("valid IPC batch").num_rows() as u64)
        .sum()
}

/// Reads a whole chunk stream and decodes it as one Arrow IPC stream.
pub(crate) async fn decode_chunks(
    mut stream: tonic::Streaming<ArrowChunk>,
) -> Result<(arrow::datatypes::SchemaRef, Vec<RecordBatch>, usize), tonic::Status> {
    let mut bytes = Vec::new();
    let mut largest = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        largest = largest.max(chunk.data.len());
        bytes.extend_from_slice(&chunk.data);
    }
    let reader =
        StreamReader::try_new(std::io::Cursor::new(bytes), None).expect("valid IPC stream");
    let schema = reader.schema();
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .expect("valid IPC batches");
    Ok((schema, batches, largest))
}

/// Sorted `(ts µs, sensor_id)` keys of sensor batches.
pub(crate) fn sensor_keys(batches: &[RecordBatch]) -> Vec<(i64, i32)> {
    let mut keys = Vec::new();
    for batch in batches {
        let ts = batch
            .column_by_name("ts")
            .unwrap()
            .as_primitive::<TimestampMicrosecondType>();
        let id = batch
            .column_by_name("sensor_id")
            .unwrap()
            .as_primitive::<Int32Type>();
        for i in 0..batch.num_rows() {
            assert!(ts.is_valid(i) && id.is_valid(i));
            keys.push((ts.value(i), id.value(i)));
        }
    }
    keys.sort_unstable();
    keys
}
