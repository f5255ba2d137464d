//! Analytics and SQL queries whose raw Arrow result streams as the engine yields it: Flight
//! commands and the `Sql` RPC. They run once (no narrowing, no 8-bit codes), so a failure is
//! the client's error.

use arrow::{array::RecordBatch, datatypes::Schema};
use futures::{StreamExt, stream::BoxStream};

use super::{
    analytic::AnalyticRequest,
    start::{Coding, Narrowing, StartOptions, Started, start},
    tracked::Tracked,
};
use crate::{
    analytics::{Analytic, AnalyticPlan, AnalyticsError, sql},
    engine::{EngineError, EngineOutput},
    error::Error,
    proto::{self, flight_command::Command},
    sql::Statement,
};

pub(crate) use super::run_error::engine_error;

/// The result of an analytics or SQL command: its schema and its batches.
pub(crate) struct CommandOutput {
    pub(crate) schema: arrow::datatypes::SchemaRef,
    pub(crate) batches: BoxStream<'static, Result<RecordBatch, EngineError>>,
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

/// Starts the `Sql` RPC's query; its result streams as DuckDB yields it. `EXPLAIN <query>`
/// answers the query's plan instead, as rows.
pub(crate) async fn start_sql(
    tracked: &Tracked,
    request: &proto::SqlRequest,
) -> Result<EngineOutput, Error> {
    if let Some(query) = crate::sql::explained(&request.sql)? {
        let explained = proto::SqlRequest {
            sql: query.to_owned(),
            ..request.clone()
        };
        let plan = super::explain::explain(
            tracked,
            &proto::ExplainRequest {
                query: Some(proto::explain_request::Query::Sql(explained)),
            },
        )
        .await?;
        return super::explain::as_output(&[plan]);
    }
    let max = tracked.state.config.engine.max_result_rows;
    let options = StartOptions {
        coding: Coding::Off,
        narrowing: Narrowing::Off,
        dry_run: false,
    };
    let (checked, once) = Statement::check_over_view(&tracked.state.sql, &request.sql, "t")?;
    let plan = |schema: &Schema| sql::plan(request, checked, once, schema, max);
    let started = start(tracked, request, plan, options).await;
    started.map(|s| s.output).map_err(|e| e.into_error())
}

/// Runs an analytics or SQL Flight command and returns the engine's result (its raw Arrow
/// result, not the typed response). `dry_run` feeds no rows: validation and schema only.
pub(crate) async fn run_command(
    tracked: &Tracked,
    command: &Command,
    dry_run: bool,
) -> Result<CommandOutput, Error> {
    // Streamed: the result goes out as the query yields it, group values as strings.
    // Per group (one result row, or one per bin, per group, which DuckDB's aggregate holds
    // whole anyway): a result over 32-bit codes is collected, decoded, then sent.
    let (streamed, per_group) = (Coding::Off, Coding::U32);
    let max = tracked.state.config.engine.max_result_rows;
    match command {
        Command::Sql(r) => {
            let (checked, once) = Statement::check_over_view(&tracked.state.sql, &r.sql, "t")?;
            let plan = |s: &Schema| sql::plan(r, checked, once, s, max);
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

async fn run<R: AnalyticRequest>(
    tracked: &Tracked,
    request: &R,
    plan_fn: impl FnOnce(&Schema) -> Result<AnalyticPlan, AnalyticsError>,
    dry_run: bool,
    coding: Coding,
) -> Result<CommandOutput, Error> {
    let options = StartOptions {
        coding,
        narrowing: Narrowing::Off,
        dry_run,
    };
    let Started { output, codes, .. } = start(tracked, request, plan_fn, options)
        .await
        .map_err(|e| e.into_error())?;
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
