//! `vastgate client`: the service from a shell. Each command is one RPC; its answer prints as
//! a table, CSV or JSON lines (`client/output.rs`), whatever the response type
//! (`client/render.rs`). A failure prints `error: CODE_NAME: message` and exits with the gRPC
//! code's number.

mod args;
mod connect;
mod failure;
mod output;
mod render;
mod stream;
pub mod where_clause;

use std::{io::Write, process::ExitCode};

pub use args::{ClientArgs, ClientCommand, Format};
pub use failure::{Failure, code_name};
use output::Printer;

use self::{args::Scope, connect::connect};
use crate::proto::{
    self, admin_service_client::AdminServiceClient,
    analytics_service_client::AnalyticsServiceClient, query_service_client::QueryServiceClient,
};

/// Runs one client command; the exit code says how it went.
pub async fn run(args: ClientArgs) -> ExitCode {
    match execute(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) if failure.is_output_closed() => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}

async fn execute(args: &ClientArgs) -> Result<(), Failure> {
    use ClientCommand as C;
    let channel = connect(&args.addr, args.token.as_deref(), args.ca_file.as_deref()).await?;
    let query = || QueryServiceClient::new(channel.clone());
    let analytics = || {
        AnalyticsServiceClient::new(channel.clone())
            .max_decoding_message_size(crate::server::MAX_MESSAGE_BYTES)
    };
    let admin = || AdminServiceClient::new(channel.clone());
    let show = |message: &dyn Shown, group_by: &[String]| message.show(args.format, group_by);
    match &args.command {
        C::Schemas => show(
            &query()
                .list_schemas(proto::ListSchemasRequest::default())
                .await?
                .into_inner(),
            &[],
        ),
        C::Tables { schema } => show(
            &query()
                .list_tables(proto::ListTablesRequest {
                    bucket: String::new(),
                    schema: schema.clone(),
                })
                .await?
                .into_inner(),
            &[],
        ),
        C::Describe { table } => show(
            &query()
                .describe_table(proto::DescribeTableRequest {
                    table: Some(table_ref(table)?),
                    bypass_cache: false,
                })
                .await?
                .into_inner(),
            &[],
        ),
        C::Select(select) => {
            let request = proto::SelectRequest {
                table: Some(table_ref(&select.scope.table)?),
                columns: select.columns.clone(),
                filter: filter(&select.scope)?,
                limit: select.limit.unwrap_or(0),
                hints: None,
            };
            let chunks = query().select(request).await?.into_inner();
            stream::print(chunks, args.format).await
        }
        C::Count(scope) => show(
            &query()
                .count(proto::CountRequest {
                    table: Some(table_ref(&scope.table)?),
                    filter: filter(scope)?,
                    hints: None,
                })
                .await?
                .into_inner(),
            &[],
        ),
        C::Sql(sql) => {
            let request = proto::SqlRequest {
                table: Some(table_ref(&sql.scope.table)?),
                filter: filter(&sql.scope)?,
                sql: sql.sql.clone(),
                limit: sql.limit.unwrap_or(0),
                ..Default::default()
            };
            let chunks = analytics().sql(request).await?.into_inner();
            stream::print(chunks, args.format).await
        }
        C::MovingAverage(a) => {
            let request = proto::MovingAverageRequest {
                table: Some(table_ref(&a.on.scope.table)?),
                filter: filter(&a.on.scope)?,
                hints: None,
                group_by: a.on.group_by.clone(),
                time_column: a.time_column.clone(),
                value_column: a.value_column.clone(),
                window_rows: a.window_rows.unwrap_or(0),
                window: a.window.map(duration).transpose()?,
            };
            show(
                &analytics().moving_average(request).await?.into_inner(),
                &a.on.group_by,
            )
        }
        C::Trend(a) => {
            let request = proto::TrendRequest {
                table: Some(table_ref(&a.on.scope.table)?),
                filter: filter(&a.on.scope)?,
                hints: None,
                group_by: a.on.group_by.clone(),
                time_column: a.time_column.clone(),
                value_column: a.value_column.clone(),
            };
            show(
                &analytics().trend(request).await?.into_inner(),
                &a.on.group_by,
            )
        }
        C::DetectAnomalies(a) => {
            let request = proto::DetectAnomaliesRequest {
                table: Some(table_ref(&a.on.scope.table)?),
                filter: filter(&a.on.scope)?,
                hints: None,
                group_by: a.on.group_by.clone(),
                time_column: a.time_column.clone(),
                value_column: a.value_column.clone(),
                threshold: a.threshold.unwrap_or(0.0),
                window_rows: a.window_rows.unwrap_or(0),
            };
            show(
                &analytics().detect_anomalies(request).await?.into_inner(),
                &a.on.group_by,
            )
        }
        C::WindowAggregate(a) => {
            let request = proto::WindowAggregateRequest {
                table: Some(table_ref(&a.on.scope.table)?),
                filter: filter(&a.on.scope)?,
                hints: None,
                group_by: a.on.group_by.clone(),
                time_column: a.time_column.clone(),
                interval: Some(duration(a.interval)?),
                value_columns: a.value_columns.clone(),
                functions: a.functions.clone(),
            };
            show(
                &analytics().window_aggregate(request).await?.into_inner(),
                &a.on.group_by,
            )
        }
        C::Percentiles(a) => {
            let request = proto::PercentilesRequest {
                table: Some(table_ref(&a.on.scope.table)?),
                filter: filter(&a.on.scope)?,
                hints: None,
                group_by: a.on.group_by.clone(),
                value_column: a.value_column.clone(),
                quantiles: a.quantiles.clone(),
            };
            show(
                &analytics().percentiles(request).await?.into_inner(),
                &a.on.group_by,
            )
        }
        C::Correlation(a) => {
            let request = proto::CorrelationRequest {
                table: Some(table_ref(&a.on.scope.table)?),
                filter: filter(&a.on.scope)?,
                hints: None,
                group_by: a.on.group_by.clone(),
                columns: a.columns.clone(),
            };
            show(
                &analytics().correlation(request).await?.into_inner(),
                &a.on.group_by,
            )
        }
        C::Histogram(a) => {
            let request = proto::HistogramRequest {
                table: Some(table_ref(&a.on.scope.table)?),
                filter: filter(&a.on.scope)?,
                hints: None,
                group_by: a.on.group_by.clone(),
                value_column: a.value_column.clone(),
                edges: a.edges.clone(),
                bins: a.bins.unwrap_or(0),
            };
            show(
                &analytics().histogram(request).await?.into_inner(),
                &a.on.group_by,
            )
        }
        C::TopN(a) => {
            let request = proto::TopNRequest {
                table: Some(table_ref(&a.on.scope.table)?),
                filter: filter(&a.on.scope)?,
                hints: None,
                group_by: a.on.group_by.clone(),
                value_column: a.value_column.clone(),
                function: a.function.clone(),
                n: a.n,
                ascending: a.ascending,
            };
            show(
                &analytics().top_n(request).await?.into_inner(),
                &a.on.group_by,
            )
        }
        C::Endpoints => show(
            &admin()
                .list_endpoints(proto::ListEndpointsRequest {})
                .await?
                .into_inner(),
            &[],
        ),
        C::Queries { limit } => show(
            &admin()
                .list_queries(proto::ListQueriesRequest { limit: *limit })
                .await?
                .into_inner(),
            &[],
        ),
        C::Slow {
            limit,
            min_duration_ms,
        } => show(
            &admin()
                .slow_queries(proto::SlowQueriesRequest {
                    limit: *limit,
                    min_duration_ms: min_duration_ms.unwrap_or(0.0),
                })
                .await?
                .into_inner(),
            &[],
        ),
        C::Query { query_id } => show(
            &admin()
                .get_query(proto::GetQueryRequest {
                    query_id: query_id.clone(),
                })
                .await?
                .into_inner(),
            &[],
        ),
        C::Watch { query_id } => {
            let mut snapshots = admin()
                .watch_query(proto::WatchQueryRequest {
                    query_id: query_id.clone(),
                    interval_ms: 0,
                })
                .await?
                .into_inner();
            while let Some(snapshot) = snapshots.message().await? {
                if let Some(q) = snapshot.query {
                    println!(
                        "{:>8.1}s  {:<10} splits {}/{}  rows {}",
                        q.duration_ms / 1e3,
                        q.phase,
                        q.splits_done,
                        q.splits,
                        q.rows_scanned
                    );
                }
            }
            Ok(())
        }
        C::Cancel { query_id } => {
            let cancelled = admin()
                .cancel_query(proto::CancelQueryRequest {
                    query_id: query_id.clone(),
                })
                .await?
                .into_inner()
                .cancelled;
            if !cancelled {
                return Err(Failure::new(
                    tonic::Code::NotFound,
                    format!("no running query `{query_id}` (it may have finished already)"),
                ));
            }
            eprintln!("cancelled {query_id}");
            Ok(())
        }
    }
}

/// A response the client can print.
trait Shown {
    fn show(&self, format: Format, group_by: &[String]) -> Result<(), Failure>;
}

/// Responses and their proto names.
macro_rules! shown {
    ($($type:ident),* $(,)?) => {$(
        impl Shown for proto::$type {
            fn show(&self, format: Format, group_by: &[String]) -> Result<(), Failure> {
                let name = concat!("vastgate.v1.", stringify!($type));
                print_rendered(render::render(self, name, group_by)?, format)
            }
        }
    )*};
}

shown!(
    GetQueryResponse,
    ListSchemasResponse,
    ListTablesResponse,
    DescribeTableResponse,
    CountResponse,
    MovingAverageResponse,
    TrendResponse,
    DetectAnomaliesResponse,
    WindowAggregateResponse,
    PercentilesResponse,
    CorrelationResponse,
    HistogramResponse,
    TopNResponse,
    ListEndpointsResponse,
    ListQueriesResponse,
    SlowQueriesResponse,
);

fn print_rendered(rendered: render::Rendered, format: Format) -> Result<(), Failure> {
    let mut printer = Printer::new(format, std::io::BufWriter::new(std::io::stdout()));
    printer.write(&rendered.batch)?;
    printer.finish(Some(&rendered.batch.schema()))?;
    // The response's own scalars (a query id) go to stderr: stdout stays rows only.
    let mut err = std::io::stderr().lock();
    for (name, value) in rendered.notes {
        // Best effort: a closed stderr must not fail a command whose rows were printed.
        let _ = writeln!(err, "{name}: {value}");
    }
    Ok(())
}

/// `schema.table` or `bucket.schema.table`.
fn table_ref(name: &str) -> Result<proto::TableRef, Failure> {
    let parts: Vec<&str> = name.split('.').collect();
    let (bucket, schema, table) = match parts.as_slice() {
        [schema, table] => ("", *schema, *table),
        [bucket, schema, table] => (*bucket, *schema, *table),
        _ => {
            return Err(Failure::invalid(format!(
                "`{name}` is not SCHEMA.TABLE or BUCKET.SCHEMA.TABLE"
            )));
        }
    };
    if schema.is_empty() || table.is_empty() {
        return Err(Failure::invalid(format!(
            "`{name}` is not SCHEMA.TABLE or BUCKET.SCHEMA.TABLE"
        )));
    }
    Ok(proto::TableRef {
        bucket: bucket.to_owned(),
        schema: schema.to_owned(),
        table: table.to_owned(),
    })
}

fn filter(scope: &Scope) -> Result<Option<proto::Filter>, Failure> {
    scope
        .filter
        .as_deref()
        .map(|text| where_clause::parse(text).map_err(|e| Failure::invalid(e.to_string())))
        .transpose()
}

fn duration(d: std::time::Duration) -> Result<prost_types::Duration, Failure> {
    prost_types::Duration::try_from(d)
        .map_err(|e| Failure::invalid(format!("duration {d:?} out of range: {e}")))
}

#[cfg(test)]
mod tests;
