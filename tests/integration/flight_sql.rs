//! Flight SQL's catalog through arrow-flight's own `FlightSqlServiceClient`, next to plain
//! Flight on the same port. Expected tables and columns come from the Parquet files.

use arrow::{
    array::{Array, AsArray, RecordBatch},
    datatypes::Schema,
    ipc::convert::try_schema_from_ipc_buffer,
};
use arrow_flight::{
    FlightInfo,
    sql::{
        CommandGetDbSchemas, CommandGetTables, CommandGetXdbcTypeInfo, SqlInfo, XdbcDataType,
        client::FlightSqlServiceClient,
    },
};
use futures::TryStreamExt;
use tonic::transport::Channel;

use crate::harness::{TestServer, parquet_path};

pub(crate) async fn client(server: &TestServer) -> FlightSqlServiceClient<Channel> {
    FlightSqlServiceClient::new(server.raw_channel().await)
}

/// Every batch of every endpoint of `info`.
pub(crate) async fn fetch(
    client: &mut FlightSqlServiceClient<Channel>,
    info: FlightInfo,
) -> Vec<RecordBatch> {
    let mut batches = Vec::new();
    for endpoint in info.endpoint {
        let stream = client.do_get(endpoint.ticket.unwrap()).await.unwrap();
        batches.extend(stream.try_collect::<Vec<_>>().await.unwrap());
    }
    batches
}

pub(crate) fn strings(batches: &[RecordBatch], column: &str) -> Vec<String> {
    batches
        .iter()
        .flat_map(|b| {
            let array = b.column_by_name(column).unwrap().as_string::<i32>().clone();
            (0..array.len())
                .map(|i| array.value(i).to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The Arrow schema of a demo table as the Parquet file declares it.
fn parquet_schema(table: &str) -> Schema {
    let file = std::fs::File::open(parquet_path(table)).unwrap();
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    reader.schema().as_ref().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_lists_what_the_parquet_folder_holds() {
    let server = TestServer::start().await;
    let mut sql = client(&server).await;

    let info = sql
        .get_sql_info(vec![
            SqlInfo::FlightSqlServerName,
            SqlInfo::FlightSqlServerReadOnly,
        ])
        .await
        .unwrap();
    let batches = fetch(&mut sql, info).await;
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    assert_eq!(rows, 2);

    // The local backend has no catalogs (buckets).
    let info = sql.get_catalogs().await.unwrap();
    assert_eq!(
        fetch(&mut sql, info)
            .await
            .iter()
            .map(|b| b.num_rows())
            .sum::<usize>(),
        0
    );

    let info = sql
        .get_db_schemas(CommandGetDbSchemas {
            catalog: None,
            db_schema_filter_pattern: Some("de%".into()),
        })
        .await
        .unwrap();
    assert_eq!(
        strings(&fetch(&mut sql, info).await, "db_schema_name"),
        ["demo"]
    );

    let info = sql
        .get_tables(CommandGetTables {
            catalog: None,
            db_schema_filter_pattern: Some("demo".into()),
            table_name_filter_pattern: None,
            table_types: vec!["TABLE".into()],
            include_schema: true,
        })
        .await
        .unwrap();
    let batches = fetch(&mut sql, info).await;
    let mut expected: Vec<String> = std::fs::read_dir(parquet_path("sensors").parent().unwrap())
        .unwrap()
        .map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.trim_end_matches(".parquet").to_owned()
        })
        .collect();
    expected.sort();
    let mut tables = strings(&batches, "table_name");
    tables.sort();
    assert_eq!(tables, expected);
    // Each table's schema, as IPC bytes, names the Parquet file's columns.
    let names = strings(&batches, "table_name");
    let schemas = batches[0]
        .column_by_name("table_schema")
        .unwrap()
        .as_binary::<i32>()
        .clone();
    for (i, table) in names.iter().enumerate() {
        let schema = try_schema_from_ipc_buffer(schemas.value(i)).unwrap();
        let got: Vec<_> = schema.fields().iter().map(|f| f.name().clone()).collect();
        let want: Vec<_> = parquet_schema(table)
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(got, want, "{table}");
    }

    let info = sql.get_table_types().await.unwrap();
    assert_eq!(
        strings(&fetch(&mut sql, info).await, "table_type"),
        ["TABLE"]
    );
}

/// The SQL type of each column of every demo table, as DuckDB reads the Parquet files.
fn duckdb_column_types() -> Vec<String> {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let folder = parquet_path("sensors").parent().unwrap().to_owned();
    let mut types = Vec::new();
    for entry in std::fs::read_dir(folder).unwrap() {
        let path = entry.unwrap().path();
        let sql = format!("DESCRIBE SELECT * FROM read_parquet('{}')", path.display());
        let mut statement = conn.prepare(&sql).unwrap();
        let rows = statement
            .query_map([], |row| row.get::<_, String>(1))
            .unwrap();
        types.extend(rows.map(Result::unwrap));
    }
    types
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xdbc_type_info_names_every_type_a_table_column_has() {
    let server = TestServer::start().await;
    let mut sql = client(&server).await;

    let info = sql
        .get_xdbc_type_info(CommandGetXdbcTypeInfo { data_type: None })
        .await
        .unwrap();
    let names = strings(&fetch(&mut sql, info).await, "type_name");
    for column_type in duckdb_column_types() {
        assert!(
            names.contains(&column_type),
            "{column_type} missing from {names:?}"
        );
    }

    // Asking for one JDBC type code answers only the types with that code.
    let info = sql
        .get_xdbc_type_info(CommandGetXdbcTypeInfo {
            data_type: Some(XdbcDataType::XdbcVarchar as i32),
        })
        .await
        .unwrap();
    assert_eq!(
        strings(&fetch(&mut sql, info).await, "type_name"),
        ["VARCHAR"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_sees_only_its_schemas_in_the_catalog() {
    let callers = crate::security::Callers::new();
    let server = TestServer::with_config(&callers.auth_toml()).await;
    let mut sql = client(&server).await;
    assert!(sql.get_catalogs().await.is_err(), "no token, no catalog");
    sql.set_header("authorization", format!("Bearer {}", callers.outsider));
    let info = sql
        .get_db_schemas(CommandGetDbSchemas::default())
        .await
        .unwrap();
    assert!(strings(&fetch(&mut sql, info).await, "db_schema_name").is_empty());
    sql.set_header("authorization", format!("Bearer {}", callers.reader));
    let info = sql
        .get_db_schemas(CommandGetDbSchemas::default())
        .await
        .unwrap();
    assert_eq!(
        strings(&fetch(&mut sql, info).await, "db_schema_name"),
        ["demo"]
    );
}
