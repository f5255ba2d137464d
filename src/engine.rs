//! The DuckDB worker pool: one in-process database, a fixed set of connections ("workers"),
//! a bounded wait queue. A request takes a worker and runs its SQL, with bound parameters,
//! over its input batches while they are still arriving: an Arrow C stream the SQL reads as
//! the CTE `t` (`arrow_stream`). Coalesced Arrow batches of the result stream back.
//!
//! DuckDB runs on blocking threads (`spawn_blocking`), never on the async runtime. Cancelling
//! the token, dropping the output or dropping the `run` future interrupts DuckDB, stops the
//! input, drops the per-request input view and frees the worker.

mod arrow_stream;
mod error;
mod ffi;
mod ingest;
mod output;
mod sandbox;
mod worker;

#[cfg(test)]
mod tests;

use std::sync::{
    Arc, Mutex, PoisonError,
    atomic::{AtomicU64, AtomicUsize, Ordering},
};

use arrow::{array::RecordBatch, datatypes::SchemaRef};
use duckdb::Connection;
use futures::{StreamExt, stream::BoxStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

pub use error::EngineError;
pub use ingest::quote_ident;
pub use output::{EngineOutput, TARGET_BATCH_ROWS};

use crate::{config::EngineConfig, waiting::Waiting};

/// Input batches waiting between the scan and the worker.
const INPUT_CHANNEL: usize = 4;
/// Result batches waiting between the worker and the consumer.
const OUTPUT_CHANNEL: usize = 2;
/// Names of the engine's own views start with this; sandboxed SQL may not use such names.
pub const INTERNAL_PREFIX: &str = "__vastgate";
/// How often a cancelled request re-interrupts DuckDB until the worker has stopped (DuckDB
/// clears the interrupt flag when a new statement starts, so one interrupt can be missed).
const INTERRUPT_REPEAT: std::time::Duration = std::time::Duration::from_millis(20);

/// The rows to load: an Arrow schema and a stream of batches of that schema.
pub struct EngineInput {
    /// Schema of every batch.
    pub schema: SchemaRef,
    /// The batches, loaded as they arrive.
    pub batches: BoxStream<'static, Result<RecordBatch, Box<dyn std::error::Error + Send + Sync>>>,
}

impl std::fmt::Debug for EngineInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineInput")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl EngineInput {
    /// Input from batches already in memory (tests, small inputs).
    pub fn from_batches(schema: SchemaRef, batches: Vec<RecordBatch>) -> Self {
        Self {
            schema,
            batches: futures::stream::iter(batches.into_iter().map(Ok)).boxed(),
        }
    }
}

/// One input of [`EnginePool::run_many`]: read by the query as the CTE `name`.
#[derive(Debug)]
pub struct NamedInput {
    /// The CTE name the query reads the input by.
    pub name: String,
    /// The batches.
    pub input: EngineInput,
    /// How many times the query reads it.
    pub reads: InputReads,
}

/// How many times a query reads its input `t`, which decides how the input reaches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputReads {
    /// Any number of times (user SQL): the input is collected once in a materialized CTE,
    /// which the query reads when all of it has arrived.
    #[default]
    Any,
    /// Exactly once (every typed analytic): the input streams straight into the query's one
    /// scan of `t`, so DuckDB computes while the splits arrive and nothing is copied. DuckDB
    /// shares plain repeated scans on its own; a second scan it does run (e.g. in a recursive
    /// CTE) would see no rows, so it fails the query instead.
    Once,
}

/// The SQL to run over the input `t`.
#[derive(Debug, Clone)]
pub struct EngineQuery {
    /// One statement; identifiers quoted, literals as `?` parameters.
    pub sql: String,
    /// Values bound to the `?` parameters, in order.
    pub params: Vec<duckdb::types::Value>,
    /// Stop after this many result rows.
    pub max_rows: Option<u64>,
    /// How many times `sql` reads `t`.
    pub input_reads: InputReads,
}

impl EngineQuery {
    /// A query without parameters or row limit that may read `t` any number of times.
    pub fn new(sql: impl Into<String>) -> Self {
        Self {
            sql: sql.into(),
            params: Vec::new(),
            max_rows: None,
            input_reads: InputReads::Any,
        }
    }

    /// The same query, declared to read `t` exactly once ([`InputReads::Once`]).
    pub fn reading_input_once(self) -> Self {
        Self {
            input_reads: InputReads::Once,
            ..self
        }
    }
}

/// A pool of DuckDB connections on one sandboxed in-memory database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct EnginePool {
    shared: Arc<Shared>,
}

struct Shared {
    idle: Mutex<Vec<Worker>>,
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_queue: usize,
    workers: usize,
    /// Requests refused because `max_queue` were waiting already.
    refused: AtomicU64,
    next_table: AtomicU64,
    /// Declared last: dropped after every worker connection (fields drop in order).
    _database: ffi::Database,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnginePool")
            .field("idle", &self.permits.available_permits())
            .field("waiting", &self.waiting.load(Ordering::Relaxed))
            .field("max_queue", &self.max_queue)
            .finish_non_exhaustive()
    }
}

struct Worker {
    conn: Connection,
    /// A second connection that loads Arrow streams (duckdb-rs exposes no raw handle).
    loader: ffi::RawConnection,
    interrupt: Arc<duckdb::InterruptHandle>,
}

impl EnginePool {
    /// Opens the database and `config.workers` connections.
    pub fn new(config: &EngineConfig) -> Result<Self, EngineError> {
        let database = sandbox::open_database(config)?;
        let workers = config.workers.max(1);
        let mut idle = Vec::with_capacity(workers);
        for _ in 0..workers {
            let conn = database.connect().map_err(|err| {
                EngineError::Internal(format!("opening a worker connection: {err}"))
            })?;
            let loader = database.connect_raw().map_err(EngineError::Internal)?;
            let interrupt = conn.interrupt_handle();
            idle.push(Worker {
                conn,
                loader,
                interrupt,
            });
        }
        Ok(Self {
            shared: Arc::new(Shared {
                idle: Mutex::new(idle),
                permits: Arc::new(Semaphore::new(workers)),
                waiting: AtomicUsize::new(0),
                max_queue: config.max_queue,
                workers,
                refused: AtomicU64::new(0),
                next_table: AtomicU64::new(0),
                _database: database,
            }),
        })
    }

    /// Workers free right now.
    pub fn idle_workers(&self) -> usize {
        self.shared.permits.available_permits()
    }

    /// Requests waiting for a worker right now.
    pub fn queued(&self) -> usize {
        self.shared.waiting.load(Ordering::Relaxed)
    }

    /// Workers in the pool.
    pub fn workers(&self) -> usize {
        self.shared.workers
    }

    /// Requests refused since start because the wait queue was full.
    pub fn refused(&self) -> u64 {
        self.shared.refused.load(Ordering::Relaxed)
    }

    /// Takes a worker (waiting if all are busy, up to `max_queue` waiters, else
    /// [`EngineError::Overloaded`]), runs `query` over `input` as `t` while its batches
    /// arrive, and returns the result stream once the query has started.
    pub async fn run(
        &self,
        input: EngineInput,
        query: EngineQuery,
        cancel: CancellationToken,
    ) -> Result<EngineOutput, EngineError> {
        let named = NamedInput {
            name: "t".to_owned(),
            input,
            reads: query.input_reads,
        };
        self.run_many(vec![named], query, cancel).await
    }

    /// Like [`run`](Self::run), over several inputs, each read by the query as the CTE of
    /// its name (a join of two tables reads two streams).
    pub async fn run_many(
        &self,
        inputs: Vec<NamedInput>,
        query: EngineQuery,
        cancel: CancellationToken,
    ) -> Result<EngineOutput, EngineError> {
        let mut planned = Vec::with_capacity(inputs.len());
        for input in inputs {
            let plan = ingest::TablePlan::new(&input.input.schema)?;
            if plan.schema.fields().is_empty() {
                return Err(EngineError::Input(
                    format!("the input `{}` has no columns", input.name).into(),
                ));
            }
            planned.push((input, plan));
        }
        let cancel = cancel.child_token();
        // Dropping this `run` future (or, later, the output) cancels the request.
        let guard = cancel.clone().drop_guard();
        let lease = self.acquire(&cancel).await?;

        let mut streams = Vec::with_capacity(planned.len());
        for (named, plan) in planned {
            let (input_tx, input_rx) = mpsc::channel(INPUT_CHANNEL);
            let view = format!(
                "{INTERNAL_PREFIX}_input_{}_{}",
                self.shared.next_table.fetch_add(1, Ordering::Relaxed),
                uuid::Uuid::new_v4().simple()
            );
            tokio::spawn(pump(named.input.batches, input_tx, cancel.clone()));
            streams.push(arrow_stream::StreamInput {
                cte: named.name,
                view,
                plan,
                reads: named.reads,
                input: input_rx,
            });
        }
        let (output_tx, output_rx) = mpsc::channel(OUTPUT_CHANNEL);
        let (ready_tx, ready_rx) = oneshot::channel();

        let active = Arc::new(Mutex::new(true));
        tokio::spawn(interrupt_on_cancel(
            Arc::clone(&lease.worker().interrupt),
            Arc::clone(&active),
            cancel.clone(),
        ));
        let job = worker::Job {
            inputs: streams,
            query,
            ready: ready_tx,
            output: output_tx,
            cancel: cancel.clone(),
        };
        tokio::task::spawn_blocking(move || {
            let mut lease = lease;
            let worker = lease.worker_mut();
            worker::run_job(&worker.conn, &mut worker.loader, job, &active);
        });

        match ready_rx.await {
            // The output takes over cancelling the request on drop.
            Ok(Ok(schema)) => Ok(EngineOutput::new(schema, output_rx, guard.disarm())),
            Ok(Err(err)) => Err(err),
            Err(_) => Err(EngineError::Internal(
                "the worker stopped without an answer".to_owned(),
            )),
        }
    }

    async fn acquire(&self, cancel: &CancellationToken) -> Result<Lease, EngineError> {
        let shared = &self.shared;
        let permit = match Arc::clone(&shared.permits).try_acquire_owned() {
            Ok(permit) => permit,
            Err(TryAcquireError::Closed) => {
                return Err(EngineError::Internal("the engine is shut down".to_owned()));
            }
            Err(TryAcquireError::NoPermits) => {
                let _waiting =
                    Waiting::enter(&shared.waiting, shared.max_queue).map_err(|queued| {
                        shared.refused.fetch_add(1, Ordering::Relaxed);
                        EngineError::Overloaded { queued }
                    })?;
                tokio::select! {
                    permit = Arc::clone(&shared.permits).acquire_owned() => permit.map_err(|_| {
                        EngineError::Internal("the engine is shut down".to_owned())
                    })?,
                    () = cancel.cancelled() => return Err(EngineError::Cancelled),
                }
            }
        };
        let worker = shared
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .ok_or_else(|| EngineError::Internal("no idle worker behind a permit".to_owned()))?;
        Ok(Lease {
            worker: Some(worker),
            shared: Arc::clone(shared),
            _permit: permit,
        })
    }
}

/// A worker taken from the pool; returned (before its permit is released) on drop.
struct Lease {
    worker: Option<Worker>,
    shared: Arc<Shared>,
    _permit: OwnedSemaphorePermit,
}

impl Lease {
    fn worker(&self) -> &Worker {
        // Only `drop` takes the worker out.
        self.worker
            .as_ref()
            .unwrap_or_else(|| unreachable!("lease without worker"))
    }

    fn worker_mut(&mut self) -> &mut Worker {
        self.worker
            .as_mut()
            .unwrap_or_else(|| unreachable!("lease without worker"))
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(worker) = self.worker.take() {
            self.shared
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(worker);
        }
    }
}

/// Moves input batches into the worker's channel; stops on cancel or when the worker quits.
async fn pump(
    mut batches: BoxStream<'static, Result<RecordBatch, Box<dyn std::error::Error + Send + Sync>>>,
    tx: mpsc::Sender<Result<RecordBatch, EngineError>>,
    cancel: CancellationToken,
) {
    loop {
        let next = tokio::select! {
            next = batches.next() => next,
            () = cancel.cancelled() => return,
            () = tx.closed() => return,
        };
        let Some(item) = next else { return };
        let failed = item.is_err();
        if tx.send(item.map_err(EngineError::Input)).await.is_err() || failed {
            return;
        }
    }
}

/// After `cancel`, interrupts DuckDB repeatedly until the job marks itself inactive.
async fn interrupt_on_cancel(
    handle: Arc<duckdb::InterruptHandle>,
    active: Arc<Mutex<bool>>,
    cancel: CancellationToken,
) {
    cancel.cancelled().await;
    loop {
        {
            let active = active.lock().unwrap_or_else(PoisonError::into_inner);
            if !*active {
                return;
            }
            handle.interrupt();
        }
        tokio::time::sleep(INTERRUPT_REPEAT).await;
    }
}
