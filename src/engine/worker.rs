//! What a worker does for one request, on a blocking thread: run the query over `t` while the
//! batches arrive (the Arrow stream path reads them in the query itself; the other load paths
//! fill a per-request temp table first), send coalesced result batches, then drop the
//! per-request state.

use std::sync::{Mutex, PoisonError};

use arrow::{array::RecordBatch, datatypes::SchemaRef};
use duckdb::Connection;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::{
    EngineError, EngineQuery, arrow_stream,
    ffi::RawConnection,
    ingest::{self, LoadPath, TablePlan, quote_ident},
    output::Coalescer,
};

/// Everything a worker needs for one request.
#[derive(Debug)]
pub(crate) struct Job {
    /// Unique, unguessable per-request table name (starts with [`super::INTERNAL_PREFIX`]).
    pub(crate) table: String,
    /// The normalized schema and its DDL.
    pub(crate) plan: TablePlan,
    /// Input batches, fed by the async pump.
    pub(crate) input: mpsc::Receiver<Result<RecordBatch, EngineError>>,
    /// The query over `t`.
    pub(crate) query: EngineQuery,
    /// Told the result schema once the query runs (or the error that stopped it before).
    pub(crate) ready: oneshot::Sender<Result<SchemaRef, EngineError>>,
    /// Result batches, then maybe one error.
    pub(crate) output: mpsc::Sender<Result<RecordBatch, EngineError>>,
    /// Cancelled by the caller, a dropped output, or a dropped `run` future.
    pub(crate) cancel: CancellationToken,
    /// How batches are loaded.
    pub(crate) load_path: LoadPath,
}

/// The per-request temp table of the table-loading paths, schema-qualified and quoted.
pub(crate) fn table_ref(table: &str) -> String {
    format!("temp.{}", quote_ident(table))
}

/// Runs `job` on `conn` to the end, marks the request inactive (so no interrupt can hit the
/// clean-up or the next request) and drops the per-request table and view. Returns the table
/// if the clean-up failed; the caller then [`purge`]s it before the worker's next use.
pub(crate) fn run_job(
    conn: &Connection,
    loader: &mut RawConnection,
    job: Job,
    active: &Mutex<bool>,
) -> Option<String> {
    let Job {
        table,
        plan,
        input,
        query,
        ready,
        output,
        cancel,
        load_path,
    } = job;
    let mut ready = Some(ready);
    let table_ref = table_ref(&table);
    let result = (|| match load_path {
        LoadPath::ArrowStream => {
            // The stream view lives in `main` (the loader cannot see this connection's temp
            // schema) under the request's unguessable name. `input` is consumed: dropping it
            // when the query ends lets the pump stop.
            let stream_view = format!("{table}_stream");
            arrow_stream::query_over(
                loader,
                &stream_view,
                &plan,
                input,
                &cancel,
                &query.sql,
                |sql| run_query(conn, sql, &query, &cancel, &mut ready, &output),
            )
        }
        LoadPath::Appender | LoadPath::ArrowTableFunction => {
            append_all(conn, &table, &plan, input, &cancel, load_path)?;
            conn.execute_batch(&format!(
                "CREATE OR REPLACE TEMP VIEW t AS SELECT * FROM {table_ref}"
            ))
            .map_err(|err| EngineError::internal("creating the view t", err))?;
            run_query(conn, &query.sql, &query, &cancel, &mut ready, &output)
        }
    })();
    let result = match result {
        Err(_) if cancel.is_cancelled() => Err(EngineError::Cancelled),
        other => other,
    };
    *active.lock().unwrap_or_else(PoisonError::into_inner) = false;
    // The Arrow stream path leaves nothing behind: its view is dropped by `query_over`.
    let clean = load_path == LoadPath::ArrowStream || cleanup(conn, &table_ref);
    if let Err(err) = result {
        match ready.take() {
            Some(ready) => {
                let _ = ready.send(Err(err));
            }
            None => {
                let _ = output.blocking_send(Err(err));
            }
        }
    }
    (!clean).then_some(table_ref)
}

fn check(cancel: &CancellationToken) -> Result<(), EngineError> {
    if cancel.is_cancelled() {
        Err(EngineError::Cancelled)
    } else {
        Ok(())
    }
}

/// Creates the temp table and appends every batch through duckdb-rs (the slower paths).
fn append_all(
    conn: &Connection,
    table: &str,
    plan: &TablePlan,
    mut input: mpsc::Receiver<Result<RecordBatch, EngineError>>,
    cancel: &CancellationToken,
    load_path: LoadPath,
) -> Result<(), EngineError> {
    check(cancel)?;
    conn.execute_batch(&plan.create_sql(table)?)
        .map_err(|err| EngineError::internal("creating the request table", err))?;
    let mut appender = match load_path {
        LoadPath::Appender => Some(
            conn.appender(table)
                .map_err(|err| EngineError::internal("opening the appender", err))?,
        ),
        LoadPath::ArrowStream | LoadPath::ArrowTableFunction => None,
    };
    while let Some(batch) = input.blocking_recv() {
        check(cancel)?;
        let batch = plan.normalize(batch?)?;
        ingest::append(conn, appender.as_mut(), table, batch)?;
    }
    check(cancel)?;
    if let Some(mut appender) = appender {
        appender
            .flush()
            .map_err(|err| EngineError::internal("flushing the appender", err))?;
    }
    Ok(())
}

/// Runs `sql` (the query's text, maybe with the input CTE in front) with `query`'s parameters
/// and row limit.
fn run_query(
    conn: &Connection,
    sql: &str,
    query: &EngineQuery,
    cancel: &CancellationToken,
    ready: &mut Option<oneshot::Sender<Result<SchemaRef, EngineError>>>,
    output: &mpsc::Sender<Result<RecordBatch, EngineError>>,
) -> Result<(), EngineError> {
    check(cancel)?;
    let mut stmt = conn
        .prepare(sql)
        .map_err(|err| EngineError::from_query(&err))?;
    let stream = stmt
        .stream_arrow(duckdb::params_from_iter(query.params.iter()))
        .map_err(|err| EngineError::from_query(&err))?;
    let schema = stream.get_schema();
    match ready.take() {
        Some(ready) => {
            if ready.send(Ok(std::sync::Arc::clone(&schema))).is_err() {
                return Err(EngineError::Cancelled);
            }
        }
        None => return Err(EngineError::Internal("result schema sent twice".to_owned())),
    }
    let mut coalescer = Coalescer::new(schema, query.max_rows);
    let send = |batch: RecordBatch| {
        output
            .blocking_send(Ok(batch))
            .map_err(|_| EngineError::Cancelled)
    };
    for chunk in stream {
        check(cancel)?;
        let chunk = chunk.map_err(|err| EngineError::from_query(&err))?;
        if let Some(batch) = coalescer.push(chunk)? {
            send(batch)?;
        }
        if coalescer.is_full() {
            break;
        }
    }
    check(cancel)?;
    if let Some(batch) = coalescer.flush()? {
        send(batch)?;
    }
    Ok(())
}

/// Drops the per-request view and table; false if that failed.
fn cleanup(conn: &Connection, table_ref: &str) -> bool {
    let sql = format!("DROP VIEW IF EXISTS temp.t; DROP TABLE IF EXISTS {table_ref}");
    match conn.execute_batch(&sql) {
        Ok(()) => true,
        Err(err) => {
            tracing::warn!(table_ref, error = %err, "could not drop the per-request table");
            false
        }
    }
}

/// Drops `leftover` (a table reference from [`run_job`]) and every temp table and view of the
/// connection, after a failed clean-up.
pub(crate) fn purge(conn: &Connection, leftover: &str) -> Result<(), EngineError> {
    conn.execute_batch(&format!("DROP TABLE IF EXISTS {leftover}"))
        .map_err(|err| EngineError::internal("dropping a leftover table", err))?;
    let names: Vec<(String, bool)> = conn
        .prepare(
            "SELECT table_name, false FROM duckdb_tables() WHERE temporary \
             UNION ALL SELECT view_name, true FROM duckdb_views() WHERE temporary AND NOT internal",
        )
        .and_then(|mut stmt| {
            stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect::<duckdb::Result<Vec<_>>>()
        })
        .map_err(|err| EngineError::internal("listing leftover temp tables", err))?;
    for (name, is_view) in names {
        let kind = if is_view { "VIEW" } else { "TABLE" };
        conn.execute_batch(&format!(
            "DROP {kind} IF EXISTS temp.{}",
            quote_ident(&name)
        ))
        .map_err(|err| EngineError::internal("dropping a leftover temp table", err))?;
    }
    Ok(())
}
