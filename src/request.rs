//! The request layer: one query's life, the same for every protocol. gRPC and Flight handlers
//! (`api`) are thin adapters over it; it speaks domain types and [`Error`](crate::error::Error), never
//! `tonic::Status`.
//!
//! # Layout
//! - `tracked`: a query in the query log: its deadline, its cancellation, its outcome.
//! - `read`: the front half of every read: resolve the table, validate columns and filter,
//!   plan splits. `count` and `select` finish the reads that skip the engine.
//! - `analytic`: the fields every analytics request shares.
//! - `start`: an analytics query started: planned, scanned, its group columns given integer
//!   codes or 8-bit integers where the plan gains by them, handed to a DuckDB worker.
//! - `rerun`: the run policy of typed analytics: run to the end, and run again when an
//!   optimistic choice of `start` does not hold. `run_error` tells the client's errors
//!   from the signals to run again; the signals never leave this layer.
//! - `typed`: a typed analytic answered: run, checked against the row limit, decoded.
//! - `incremental`: a typed analytic answered from cached partial states per time bucket,
//!   scanning only what they do not cover.
//! - `command`: an analytics or SQL query whose raw Arrow result streams (Flight, `Sql`).
//! - `explain`: the plan of a read or an analytic, built as running it would, not run.
//! - `statement`: a Flight SQL statement over the service's tables, each scanned with its
//!   columns and filter pushed down.

mod analytic;
mod command;
mod count;
mod explain;
mod incremental;
mod read;
mod rerun;
mod run_error;
mod select;
mod start;
mod statement;
mod tracked;
mod typed;

pub(crate) use self::{
    analytic::AnalyticRequest,
    command::{engine_error, run_command, start_sql},
    count::count,
    explain::{explain, explain_statement},
    incremental::answer_incremental,
    read::{ReadArgs, prepare, table_ref},
    select::{Batches, limit_rows, plan_select, scan, scan_splits},
    statement::{SplitPart, StatementOptions, start_statement},
    tracked::Tracked,
    typed::answer,
};
