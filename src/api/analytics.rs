//! `AnalyticsService`: every analytic runs the same way — resolve the table, let the analytic
//! plan its columns and SQL, scan only those columns with the request's filter pushed down,
//! stream the batches into a DuckDB worker, decode the result into the typed response.

use std::{pin::Pin, sync::Arc};

use arrow::array::RecordBatch;
use futures::{Stream, StreamExt};
use tonic::{Request, Response, Status};

use super::{
    convert, ipc,
    read::{self, ReadArgs},
    tracked::{CancelReason, Tracked},
};
use crate::{
    analytics::{
        Analytic, AnalyticPlan, AnalyticsError, CodedSql,
        group_codes::{CodeWidth, CodingError, CodingLessons, GroupCodes, TooManyGroupValues},
        narrowing::{NarrowedGroups, NarrowingError, OutsideStatistics},
    },
    backend::TableRef,
    engine::{EngineError, EngineInput, EngineOutput},
    error::Error,
    exec::ExecError,
    proto::{self, analytics_service_server::AnalyticsService},
    state::AppState,
};

/// The `AnalyticsService` handler.
#[derive(Debug, Clone)]
pub struct AnalyticsApi {
    state: Arc<AppState>,
}

impl AnalyticsApi {
    /// A handler over the shared state.
    pub fn new(state: Arc<AppState>) -> Self {
        Self { state }
    }
}

/// The fields every analytics request shares.
trait Common {
    fn table(&self) -> Option<&proto::TableRef>;
    fn filter(&self) -> Option<&proto::Filter>;
    fn hints(&self) -> Option<&proto::QueryHints>;
}

/// Responses carry the request's query id.
trait WithQueryId {
    fn set_query_id(&mut self, id: String);
}

macro_rules! common {
    ($($request:ty => $response:ty),* $(,)?) => {$(
        impl Common for $request {
            fn table(&self) -> Option<&proto::TableRef> { self.table.as_ref() }
            fn filter(&self) -> Option<&proto::Filter> { self.filter.as_ref() }
            fn hints(&self) -> Option<&proto::QueryHints> { self.hints.as_ref() }
        }
        impl WithQueryId for $response {
            fn set_query_id(&mut self, id: String) { self.query_id = id; }
        }
    )*};
}

common!(
    proto::MovingAverageRequest => proto::MovingAverageResponse,
    proto::TrendRequest => proto::TrendResponse,
    proto::DetectAnomaliesRequest => proto::DetectAnomaliesResponse,
    proto::WindowAggregateRequest => proto::WindowAggregateResponse,
    proto::PercentilesRequest => proto::PercentilesResponse,
    proto::CorrelationRequest => proto::CorrelationResponse,
    proto::HistogramRequest => proto::HistogramResponse,
    proto::TopNRequest => proto::TopNResponse,
);

impl Common for proto::SqlRequest {
    fn table(&self) -> Option<&proto::TableRef> {
        self.table.as_ref()
    }
    fn filter(&self) -> Option<&proto::Filter> {
        self.filter.as_ref()
    }
    fn hints(&self) -> Option<&proto::QueryHints> {
        self.hints.as_ref()
    }
}

fn analytics_error(err: AnalyticsError) -> Error {
    match err {
        AnalyticsError::InvalidArgument(m) => Error::InvalidArgument(m),
        AnalyticsError::Internal(m) => Error::Internal(m),
    }
}

fn engine_error(reason: &CancelReason, err: EngineError) -> Error {
    match err {
        EngineError::Overloaded { .. } => Error::Overloaded(err.to_string()),
        EngineError::Cancelled => reason.cancelled(),
        EngineError::Sql(_) | EngineError::UnsupportedType { .. } => {
            Error::InvalidArgument(err.to_string())
        }
        EngineError::OutOfMemory(_) => Error::Overloaded(err.to_string()),
        EngineError::Input(source) => match source.downcast::<ExecError>() {
            Ok(exec) => reason.exec_error(*exec),
            Err(other) => match other.downcast::<OutsideStatistics>() {
                Ok(stale) => Error::StaleMetadata(stale.to_string()),
                Err(other) => match other.downcast::<TooManyGroupValues>() {
                    Ok(full) => Error::TooManyGroupValues(*full),
                    Err(other) => Error::Internal(format!("analytics input: {other}")),
                },
            },
        },
        EngineError::Internal(m) => Error::Internal(m),
    }
}

/// Whether the engine may see string group columns as integer codes
/// ([`GroupCodes`]): only where the result is decoded afterwards, not where it is streamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    /// Also with a plan's coded SQL ([`AnalyticPlan::coded_sql`]), whose result only the
    /// typed decode finishes, and with narrow codes where the plan wants
    /// [`eight_bit_groups`](AnalyticPlan::eight_bit_groups) and the column is not known to
    /// need wide ones: the typed RPCs, which can run again ([`run_to_end`]).
    Allowed,
    /// Wide codes, only where the plan's own SQL runs over them: a Flight command's result is
    /// sent as the query gives it.
    Wide,
    Off,
}

/// A started analytics query.
struct Started {
    output: EngineOutput,
    /// The codes of the input's group columns, to decode the result with.
    codes: Option<GroupCodes>,
    /// Running the plan's coded SQL: it, and the most rows its complete result has.
    coded_sql: Option<CodedSql>,
}

/// Whether small integer group columns may reach the engine narrowed to 8 bits
/// ([`NarrowedGroups`]): only where the whole result is awaited, so that a
/// query refused for stale statistics can run again ([`run_to_end`]); not where it streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Narrowing {
    Allowed,
    Off,
}

/// Plans the request, scans its columns and starts the DuckDB query. A dry run feeds no rows:
/// it validates the request and yields the result schema (Flight's GetFlightInfo). With
/// [`Coding`] and a plan that allow it, the input's group columns are coded and the codes to
/// decode the result with come back too.
async fn start<R: Common>(
    tracked: &Tracked,
    request: &R,
    plan_fn: impl FnOnce(&arrow::datatypes::Schema) -> Result<AnalyticPlan, AnalyticsError>,
    dry_run: bool,
    coding: Coding,
    narrowing: Narrowing,
) -> Result<Started, Error> {
    let state = &tracked.state;
    // One catalog lookup: the analytic's plan needs the schema before the read is planned.
    let (table, meta) = read::describe(tracked, request.table(), request.hints()).await?;
    let mut plan = plan_fn(&meta.schema).map_err(analytics_error)?;
    let mut scan = read::plan_read(
        tracked,
        table,
        meta,
        &ReadArgs {
            table: request.table(),
            columns: &plan.columns,
            filter: request.filter(),
            hints: request.hints(),
            ..Default::default()
        },
    )?;
    let mut schema = Arc::clone(&scan.output_schema);
    let codes = if dry_run {
        None
    } else {
        // The same table key as `run_to_end` remembers its lessons by.
        let table = convert::table_ref(request.table())?;
        group_codes(&plan, &schema, coding, &table, &state.coding_lessons)
            .map_err(analytics_error)?
    };
    let mut coded_sql = None;
    if let Some(codes) = &codes {
        coded_sql = plan.use_coded_sql();
        schema = codes.schema();
        // The coder takes dictionary arrays too, and codes each Parquet dictionary entry once.
        let table_schema = &scan.meta.schema;
        scan.request.dictionary_columns = plan
            .codable_groups
            .iter()
            .filter_map(|name| table_schema.index_of(name).ok())
            .collect();
    }
    // Integer columns only, so independent of the string columns' codes.
    let narrowed = match narrowing {
        Narrowing::Allowed if plan.eight_bit_groups => {
            NarrowedGroups::new(&schema, &plan.narrowable_groups, &scan.meta.int_ranges)
        }
        Narrowing::Allowed | Narrowing::Off => None,
    };
    if let Some(narrowed) = &narrowed {
        tracing::debug!(columns = ?narrowed.columns(), "group columns narrowed to 8 bits");
        schema = narrowed.schema();
    }
    let mut batches = if dry_run {
        futures::stream::empty().boxed()
    } else {
        state
            .executor
            .execute(
                scan,
                tracked.cancel_token(),
                Arc::clone(&tracked.query.scan),
            )
            .map(|item| item.map_err(|e| Box::new(e) as BoxError))
            .boxed()
    };
    if let Some(codes) = &codes {
        let narrow = codes.narrow_columns();
        if !narrow.is_empty() {
            tracing::debug!(columns = ?narrow, "group columns coded in 8 bits");
        }
        let codes = codes.clone();
        batches = batches
            .map(move |item| {
                item.and_then(|batch| {
                    codes.encode(batch).map_err(|err| match err {
                        // Kept as its own type: `engine_error` turns it into a retry.
                        CodingError::TooManyValues(full) => Box::new(full) as BoxError,
                        CodingError::Arrow(other) => Box::new(other),
                    })
                })
            })
            .boxed();
    }
    if let Some(narrowed) = narrowed {
        batches = batches
            .map(move |item| {
                item.and_then(|batch| {
                    narrowed.narrow(batch).map_err(|err| match err {
                        // Kept as its own type: `engine_error` turns it into a retry.
                        NarrowingError::OutsideStatistics(stale) => Box::new(stale) as BoxError,
                        other => Box::new(other),
                    })
                })
            })
            .boxed();
    }
    let output = state
        .engine
        .run(
            EngineInput { schema, batches },
            plan.query,
            tracked.cancel_token(),
        )
        .await
        .map_err(|e| engine_error(&tracked.cancelled_reporter(), e))?;
    Ok(Started {
        output,
        codes,
        coded_sql,
    })
}

/// The codes for `plan`'s group columns under `coding`, if any: 8-bit where the plan gains by
/// them and no earlier request of `table` found the column too varied; none when its coded
/// SQL is known to leave the result cut short.
fn group_codes(
    plan: &AnalyticPlan,
    schema: &arrow::datatypes::Schema,
    coding: Coding,
    table: &TableRef,
    lessons: &CodingLessons,
) -> Result<Option<GroupCodes>, AnalyticsError> {
    match coding {
        Coding::Allowed => {
            let cut_short = plan
                .coded_sql
                .as_ref()
                .is_some_and(|coded| lessons.cut_short(table, &coded.sql));
            if cut_short {
                return Ok(None);
            }
            GroupCodes::new(schema, &plan.codable_groups, |column| {
                if plan.eight_bit_groups {
                    lessons.width(table, column)
                } else {
                    CodeWidth::Wide
                }
            })
        }
        Coding::Wide if plan.coded_sql.is_none() => {
            GroupCodes::new(schema, &plan.codable_groups, |_| CodeWidth::Wide)
        }
        Coding::Wide | Coding::Off => Ok(None),
    }
}

/// Runs the request's query to the end ([`start`], then collect), and once more when an
/// optimistic choice of [`start`] does not hold:
/// - a group column narrowed from the table's statistics meets a value outside them (the
///   table changed under its cached metadata): the cached metadata is dropped and the request
///   runs without narrowing;
/// - a column given narrow codes has more distinct values than they hold: the request runs
///   with it coded wide;
/// - the plan's coded SQL left a result cut short: the request runs over the strings.
///
/// So the client gets its answer, not an error. The last two are remembered
/// ([`CodingLessons`](crate::analytics::group_codes::CodingLessons)): later requests start
/// from the choice that held.
async fn run_to_end<R: Common>(
    tracked: &Tracked,
    request: &R,
    plan_fn: impl Fn(&arrow::datatypes::Schema) -> Result<AnalyticPlan, AnalyticsError>,
) -> Result<(Vec<RecordBatch>, Option<GroupCodes>), Error> {
    let plan_fn = &plan_fn;
    let attempt = |coding, narrowing| async move {
        let started = start(tracked, request, plan_fn, false, coding, narrowing).await?;
        let batches = started
            .output
            .collect()
            .await
            .map_err(|e| engine_error(&tracked.cancelled_reporter(), e))?;
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        Ok::<_, Error>(match started.coded_sql {
            Some(coded) if rows > coded.max_rows => Attempt::CutShort(coded.sql),
            _ => Attempt::Done(batches, started.codes),
        })
    };
    let lessons = &tracked.state.coding_lessons;
    let (mut coding, mut narrowing) = (Coding::Allowed, Narrowing::Allowed);
    // Each failed attempt gives one choice up for good; a request grouped by several string
    // columns that all overflow their codes ends in the last, plain attempt.
    for _ in 0..3 {
        match attempt(coding, narrowing).await {
            Ok(Attempt::Done(batches, codes)) => return Ok((batches, codes)),
            Ok(Attempt::CutShort(sql)) => {
                tracing::debug!("coded result cut short; running again over the group strings");
                lessons
                    .learn_cut_short(&convert::table_ref(request.table())?, &sql)
                    .await;
                coding = Coding::Off;
            }
            Err(Error::StaleMetadata(message)) => {
                tracing::warn!(%message, "narrowed group column out of its statistics; running again");
                if let Ok(table) = convert::table_ref(request.table()) {
                    tracked.state.catalog.invalidate(Some(&table)).await;
                }
                narrowing = Narrowing::Off;
            }
            Err(Error::TooManyGroupValues(full)) => {
                tracing::debug!(%full, "running again with the column coded in 32 bits");
                let table = convert::table_ref(request.table())?;
                lessons.learn_wide(&table, &full.column).await;
            }
            Err(other) => return Err(other),
        }
    }
    match attempt(Coding::Off, Narrowing::Off).await? {
        Attempt::Done(batches, codes) => Ok((batches, codes)),
        Attempt::CutShort(_) => Err(Error::Internal(
            "a result without group codes was taken for a coded one".to_owned(),
        )),
    }
}

/// How one run of [`run_to_end`] ended, short of an error.
enum Attempt {
    Done(Vec<RecordBatch>, Option<GroupCodes>),
    /// The result of this coded SQL was cut short.
    CutShort(String),
}

impl AnalyticsApi {
    async fn typed<R>(
        &self,
        request: Request<R>,
        method: &str,
    ) -> Result<Response<R::Response>, Status>
    where
        R: Analytic + Common + Send + 'static,
        R::Response: WithQueryId + Send + 'static,
    {
        let tracked = Tracked::start(&self.state, &request, method);
        let req = request.into_inner();
        let max_rows = self.state.config.engine.max_response_rows;
        let result = async {
            // One row past the limit tells "too many" from "exactly the limit".
            let plan = |schema: &arrow::datatypes::Schema| {
                let mut plan = req.plan(schema)?;
                plan.query.max_rows = Some(max_rows.saturating_add(1));
                Ok(plan)
            };
            let (batches, codes) = run_to_end(&tracked, &req, plan).await?;
            let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
            if rows as u64 > max_rows {
                return Err(Error::InvalidArgument(format!(
                    "{method} would return more than {max_rows} rows (engine.max_response_rows); \
                     narrow the filter, or stream bulk results with Sql or Arrow Flight"
                )));
            }
            tracked.query.add_rows_returned(rows as u64);
            // Decoding is CPU work that grows with the result (500k MovingAverage points:
            // 20–30 ms): off the async workers.
            let decode = move || {
                let batches = match codes {
                    Some(codes) => codes.decode(batches)?,
                    None => batches,
                };
                req.decode(&batches)
            };
            let mut response = tokio::task::spawn_blocking(decode)
                .await
                .map_err(|err| Error::Internal(format!("decoding the result: {err}")))?
                .map_err(analytics_error)?;
            response.set_query_id(tracked.query.id().to_owned());
            Ok::<_, Error>(response)
        }
        .await;
        match result {
            Ok(response) => {
                tracked.finish::<()>(&Ok(()));
                Ok(Response::new(response))
            }
            Err(err) => {
                let status = Status::from(err.clone());
                tracked.finish::<()>(&Err(err));
                Err(status)
            }
        }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

type ChunkStream = Pin<Box<dyn Stream<Item = Result<proto::ArrowChunk, Status>> + Send>>;

#[tonic::async_trait]
impl AnalyticsService for AnalyticsApi {
    async fn moving_average(
        &self,
        request: Request<proto::MovingAverageRequest>,
    ) -> Result<Response<proto::MovingAverageResponse>, Status> {
        self.typed(request, "MovingAverage").await
    }
    async fn trend(
        &self,
        request: Request<proto::TrendRequest>,
    ) -> Result<Response<proto::TrendResponse>, Status> {
        self.typed(request, "Trend").await
    }
    async fn detect_anomalies(
        &self,
        request: Request<proto::DetectAnomaliesRequest>,
    ) -> Result<Response<proto::DetectAnomaliesResponse>, Status> {
        self.typed(request, "DetectAnomalies").await
    }
    async fn window_aggregate(
        &self,
        request: Request<proto::WindowAggregateRequest>,
    ) -> Result<Response<proto::WindowAggregateResponse>, Status> {
        self.typed(request, "WindowAggregate").await
    }
    async fn percentiles(
        &self,
        request: Request<proto::PercentilesRequest>,
    ) -> Result<Response<proto::PercentilesResponse>, Status> {
        self.typed(request, "Percentiles").await
    }
    async fn correlation(
        &self,
        request: Request<proto::CorrelationRequest>,
    ) -> Result<Response<proto::CorrelationResponse>, Status> {
        self.typed(request, "Correlation").await
    }
    async fn histogram(
        &self,
        request: Request<proto::HistogramRequest>,
    ) -> Result<Response<proto::HistogramResponse>, Status> {
        self.typed(request, "Histogram").await
    }
    async fn top_n(
        &self,
        request: Request<proto::TopNRequest>,
    ) -> Result<Response<proto::TopNResponse>, Status> {
        self.typed(request, "TopN").await
    }

    type SqlStream = ChunkStream;

    async fn sql(
        &self,
        request: Request<proto::SqlRequest>,
    ) -> Result<Response<Self::SqlStream>, Status> {
        let tracked = Tracked::start(&self.state, &request, "Sql");
        let req = request.into_inner();
        let max = self.state.config.engine.max_result_rows;
        let planned = start(
            &tracked,
            &req,
            |schema| crate::analytics::sql::plan(&req, schema, max),
            false,
            Coding::Off,
            Narrowing::Off,
        );
        let output = match planned.await {
            Ok(started) => started.output,
            Err(err) => {
                let status = Status::from(err.clone());
                tracked.finish::<()>(&Err(err));
                return Err(status);
            }
        };
        Ok(Response::new(Box::pin(sql_stream(tracked, output))))
    }
}

fn sql_stream(
    tracked: Tracked,
    output: EngineOutput,
) -> impl Stream<Item = Result<proto::ArrowChunk, Status>> + Send {
    let schema = output.schema();
    let reason = tracked.cancelled_reporter();
    let batches = output
        .map(move |item| item.map_err(|e| engine_error(&reason, e)))
        .boxed();
    ipc::chunk_stream(tracked, schema, batches, 0)
}

/// The result of an analytics or SQL Flight command: its schema and its batches.
pub(crate) struct CommandOutput {
    pub(crate) schema: arrow::datatypes::SchemaRef,
    pub(crate) batches: futures::stream::BoxStream<'static, Result<RecordBatch, EngineError>>,
}

impl CommandOutput {
    /// The engine's batches as they come.
    fn streamed(output: EngineOutput) -> Self {
        Self {
            schema: output.schema(),
            batches: output.boxed(),
        }
    }
}

/// Runs an analytics or SQL Flight command and returns the engine's result (its raw Arrow
/// result, not the typed response). `dry_run` feeds no rows: validation and schema only.
pub(crate) async fn run_command(
    tracked: &Tracked,
    command: &proto::flight_command::Command,
    dry_run: bool,
) -> Result<CommandOutput, Error> {
    use proto::flight_command::Command;
    // With `Coding::Off` the result streams as the query yields it, group values as strings.
    // With `Coding::Wide` (analytics with one result row, or one per bin, per group, whose
    // result DuckDB's aggregate holds whole anyway) a coded result is collected, its group
    // codes decoded, then sent.
    async fn run<R: Common>(
        tracked: &Tracked,
        request: &R,
        plan_fn: impl FnOnce(&arrow::datatypes::Schema) -> Result<AnalyticPlan, AnalyticsError>,
        dry_run: bool,
        coding: Coding,
    ) -> Result<CommandOutput, Error> {
        let Started { output, codes, .. } =
            start(tracked, request, plan_fn, dry_run, coding, Narrowing::Off).await?;
        let Some(codes) = codes else {
            return Ok(CommandOutput::streamed(output));
        };
        let schema = output.schema();
        let decoded = async move {
            let batches = output.collect().await?;
            codes
                .decode(batches)
                .map_err(|e| EngineError::Internal(e.to_string()))
        };
        let batches = futures::stream::once(decoded)
            .flat_map(|result| match result {
                Ok(batches) => futures::stream::iter(batches.into_iter().map(Ok)).left_stream(),
                Err(err) => futures::stream::once(async move { Err(err) }).right_stream(),
            })
            .boxed();
        Ok(CommandOutput { schema, batches })
    }
    let (streamed, per_group) = (Coding::Off, Coding::Wide);
    let max = tracked.state.config.engine.max_result_rows;
    match command {
        Command::Sql(r) => {
            let plan = |s: &_| crate::analytics::sql::plan(r, s, max);
            run(tracked, r, plan, dry_run, streamed).await
        }
        Command::MovingAverage(r) => run(tracked, r, |s| r.plan(s), dry_run, streamed).await,
        Command::Trend(r) => run(tracked, r, |s| r.plan(s), dry_run, per_group).await,
        Command::DetectAnomalies(r) => run(tracked, r, |s| r.plan(s), dry_run, streamed).await,
        Command::WindowAggregate(r) => run(tracked, r, |s| r.plan(s), dry_run, streamed).await,
        Command::Percentiles(r) => run(tracked, r, |s| r.plan(s), dry_run, per_group).await,
        Command::Correlation(r) => run(tracked, r, |s| r.plan(s), dry_run, per_group).await,
        Command::Histogram(r) => run(tracked, r, |s| r.plan(s), dry_run, per_group).await,
        Command::TopN(r) => run(tracked, r, |s| r.plan(s), dry_run, streamed).await,
        Command::Select(_) => Err(Error::Internal(
            "a Select is not an analytics command".to_owned(),
        )),
    }
}

pub(crate) fn engine_error_for(reason: &CancelReason, err: EngineError) -> Error {
    engine_error(reason, err)
}
