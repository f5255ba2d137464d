//! `vastgate client`: the service from a shell. Each command is one RPC (`--explain`: the
//! plan of a data command instead of its answer); its answer prints as
//! a table, CSV or JSON lines (`client/output.rs`), whatever the response type
//! (`client/render.rs`). A failure prints `error: CODE_NAME: message` and exits with the gRPC
//! code's number.

mod args;
mod connect;
mod explain;
mod failure;
mod output;
mod render;
mod requests;
mod stream;
pub mod where_clause;

use std::{io::Write, process::ExitCode};

pub use args::{ClientArgs, ClientCommand, Format};
pub use failure::{Failure, code_name};
use output::Printer;

use self::connect::{Authorized, connect};
use crate::proto::{
    self, admin_service_client::AdminServiceClient,
    analytics_service_client::AnalyticsServiceClient, explain_request::Query,
    query_service_client::QueryServiceClient,
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
    // Built (and `--where` parsed) before connecting: a typo fails fast.
    let data = requests::data_request(&args.command)?;
    let channel = connect(&args.addr, args.token.as_deref(), args.ca_file.as_deref()).await?;
    let query = || QueryServiceClient::new(channel.clone());
    let analytics = || {
        AnalyticsServiceClient::new(channel.clone())
            .max_decoding_message_size(crate::server::MAX_MESSAGE_BYTES)
    };
    let admin = || AdminServiceClient::new(channel.clone());
    let show = |message: &dyn Shown, group_by: &[String]| message.show(args.format, group_by);
    if let Some(data) = data {
        if args.explain {
            let plan = query()
                .explain(proto::ExplainRequest { query: Some(data) })
                .await?
                .into_inner();
            return print_rendered(explain::rows(&plan)?, args.format);
        }
        return run_data(data, args.format, query(), analytics()).await;
    }
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
                    table: Some(requests::table_ref(table)?),
                    bypass_cache: false,
                })
                .await?
                .into_inner(),
            &[],
        ),
        C::Select(_)
        | C::Count(_)
        | C::Sql(_)
        | C::MovingAverage(_)
        | C::Trend(_)
        | C::DetectAnomalies(_)
        | C::WindowAggregate(_)
        | C::Percentiles(_)
        | C::Correlation(_)
        | C::Histogram(_)
        | C::TopN(_) => Err(Failure::new(
            tonic::Code::Internal,
            "a data command without its request (client/requests.rs misses it)",
        )),
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

/// Sends a data command's request and prints its answer.
async fn run_data(
    data: Query,
    format: Format,
    mut query: QueryServiceClient<Authorized>,
    mut analytics: AnalyticsServiceClient<Authorized>,
) -> Result<(), Failure> {
    let show = |message: &dyn Shown, group_by: &[String]| message.show(format, group_by);
    match data {
        Query::Select(r) => stream::print(query.select(r).await?.into_inner(), format).await,
        Query::Sql(r) => stream::print(analytics.sql(r).await?.into_inner(), format).await,
        Query::Count(r) => show(&query.count(r).await?.into_inner(), &[]),
        Query::MovingAverage(r) => {
            let groups = r.group_by.clone();
            show(&analytics.moving_average(r).await?.into_inner(), &groups)
        }
        Query::Trend(r) => {
            let groups = r.group_by.clone();
            show(&analytics.trend(r).await?.into_inner(), &groups)
        }
        Query::DetectAnomalies(r) => {
            let groups = r.group_by.clone();
            show(&analytics.detect_anomalies(r).await?.into_inner(), &groups)
        }
        Query::WindowAggregate(r) => {
            let groups = r.group_by.clone();
            show(&analytics.window_aggregate(r).await?.into_inner(), &groups)
        }
        Query::Percentiles(r) => {
            let groups = r.group_by.clone();
            show(&analytics.percentiles(r).await?.into_inner(), &groups)
        }
        Query::Correlation(r) => {
            let groups = r.group_by.clone();
            show(&analytics.correlation(r).await?.into_inner(), &groups)
        }
        Query::Histogram(r) => {
            let groups = r.group_by.clone();
            show(&analytics.histogram(r).await?.into_inner(), &groups)
        }
        Query::TopN(r) => {
            let groups = r.group_by.clone();
            show(&analytics.top_n(r).await?.into_inner(), &groups)
        }
    }
}

#[cfg(test)]
mod tests;
