//! `vastgate client …`: the command line. Analytic flags are named after the request fields
//! (`--value-column` sets `value_column`); `client/tests.rs` holds them to the proto.

use std::{path::PathBuf, time::Duration};

use clap::{Args, Subcommand, ValueEnum};

/// `vastgate client`.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// The server's gRPC address (`https://` for TLS).
    #[arg(
        long,
        global = true,
        env = "VASTGATE_ADDR",
        default_value = "http://127.0.0.1:50051"
    )]
    pub addr: String,
    /// Bearer token (`vastgate token new`).
    #[arg(long, global = true, env = "VASTGATE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// PEM certificates to trust besides the built-in roots (a private CA).
    #[arg(long, global = true, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// How results are printed: an aligned table, CSV with a header row, or one JSON object
    /// per row.
    #[arg(long, global = true, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Print how the server would run a data command (splits, filters, engine SQL, and why)
    /// instead of running it.
    #[arg(long, global = true)]
    pub explain: bool,
    /// What to ask.
    #[command(subcommand)]
    pub command: ClientCommand,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns, for a terminal.
    Table,
    /// CSV with a header row.
    Csv,
    /// One JSON object per row.
    Json,
}

/// The client's commands.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// The schemas the server serves.
    Schemas,
    /// The tables of a schema, with rows and bytes.
    Tables {
        /// Schema name.
        schema: String,
    },
    /// A table's columns.
    Describe {
        /// `SCHEMA.TABLE` (or `BUCKET.SCHEMA.TABLE`).
        table: String,
    },
    /// Rows of a table, filtered on the server.
    Select(SelectArgs),
    /// How many rows match.
    Count(Scope),
    /// SQL over the filtered rows of a table, which the statement reads as `t`.
    Sql(SqlArgs),
    /// Moving average of a value over time.
    MovingAverage(MovingAverageArgs),
    /// Linear trend of a value over time.
    Trend(TrendArgs),
    /// Values far from their moving mean.
    DetectAnomalies(DetectAnomaliesArgs),
    /// Aggregates per time bucket.
    WindowAggregate(WindowAggregateArgs),
    /// Quantiles of a value.
    Percentiles(PercentilesArgs),
    /// Pairwise Pearson correlation.
    Correlation(CorrelationArgs),
    /// Counts per bin.
    Histogram(HistogramArgs),
    /// The groups with the highest (or lowest) aggregate.
    TopN(TopNArgs),
    /// The VAST endpoints with health, breaker state and latency.
    Endpoints,
    /// Running and recent queries.
    Queries {
        /// Recent queries to list.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// The slowest finished queries.
    Slow {
        /// Queries to list.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Only queries at least this long (default: the server's slow-query threshold).
        #[arg(long, value_name = "MS")]
        min_duration_ms: Option<f64>,
    },
    /// One query, running or recent, with a row per split (state, endpoints, rows, waits).
    Query {
        /// The id `queries` shows.
        query_id: String,
    },
    /// Follow a query until it ends: one line per change (phase, splits done, rows).
    Watch {
        /// The id `queries` shows.
        query_id: String,
    },
    /// Cancel a running query.
    Cancel {
        /// The id `queries` shows.
        query_id: String,
    },
}

/// The table and the rows of it a command reads.
#[derive(Debug, Args)]
pub struct Scope {
    /// `SCHEMA.TABLE` (or `BUCKET.SCHEMA.TABLE`).
    pub table: String,
    /// Which rows, pushed down to the storage, e.g.
    /// `region = 'east' AND temperature > 25`; also IN (…), BETWEEN, IS [NOT] NULL,
    /// LIKE 'prefix%' / '%part%', NOT, OR, TIMESTAMP '…', DATE '…'.
    #[arg(long = "where", value_name = "CONDITION")]
    pub filter: Option<String>,
}

/// `select`.
#[derive(Debug, Args)]
pub struct SelectArgs {
    #[command(flatten)]
    pub scope: Scope,
    /// Columns to return, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    pub columns: Vec<String>,
    /// At most this many rows.
    #[arg(long)]
    pub limit: Option<u64>,
}

/// `sql`.
#[derive(Debug, Args)]
pub struct SqlArgs {
    #[command(flatten)]
    pub scope: Scope,
    /// The statement; it reads the filtered rows as `t`.
    pub sql: String,
    /// At most this many rows.
    #[arg(long)]
    pub limit: Option<u64>,
}

/// The table, rows and groups an analytic works on.
#[derive(Debug, Args)]
pub struct AnalyticScope {
    #[command(flatten)]
    pub scope: Scope,
    /// Columns to group by, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub group_by: Vec<String>,
}

/// `moving-average`.
#[derive(Debug, Args)]
pub struct MovingAverageArgs {
    #[command(flatten)]
    pub on: AnalyticScope,
    /// The timestamp column that orders the rows.
    #[arg(long)]
    pub time_column: String,
    /// The value averaged.
    #[arg(long)]
    pub value_column: String,
    /// A window of this many rows…
    #[arg(long)]
    pub window_rows: Option<u32>,
    /// …or of this much time (e.g. `10m`).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub window: Option<Duration>,
}

/// `trend`.
#[derive(Debug, Args)]
pub struct TrendArgs {
    #[command(flatten)]
    pub on: AnalyticScope,
    /// The timestamp column.
    #[arg(long)]
    pub time_column: String,
    /// The value whose trend is fitted.
    #[arg(long)]
    pub value_column: String,
}

/// `detect-anomalies`.
#[derive(Debug, Args)]
pub struct DetectAnomaliesArgs {
    #[command(flatten)]
    pub on: AnalyticScope,
    /// The timestamp column that orders the rows.
    #[arg(long)]
    pub time_column: String,
    /// The value tested.
    #[arg(long)]
    pub value_column: String,
    /// |z-score| above which a value is an anomaly.
    #[arg(long)]
    pub threshold: Option<f64>,
    /// Rows of the moving window the z-score is taken against.
    #[arg(long)]
    pub window_rows: Option<u32>,
}

/// `window-aggregate`.
#[derive(Debug, Args)]
pub struct WindowAggregateArgs {
    #[command(flatten)]
    pub on: AnalyticScope,
    /// The timestamp column bucketed.
    #[arg(long)]
    pub time_column: String,
    /// Bucket width (e.g. `1h`).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub interval: Duration,
    /// Columns aggregated, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    pub value_columns: Vec<String>,
    /// Aggregates, comma-separated (count, sum, avg, min, max, stddev, …).
    #[arg(long, value_delimiter = ',', required = true)]
    pub functions: Vec<String>,
}

/// `percentiles`.
#[derive(Debug, Args)]
pub struct PercentilesArgs {
    #[command(flatten)]
    pub on: AnalyticScope,
    /// The value whose quantiles are computed.
    #[arg(long)]
    pub value_column: String,
    /// Quantiles in [0, 1], comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    pub quantiles: Vec<f64>,
}

/// `correlation`.
#[derive(Debug, Args)]
pub struct CorrelationArgs {
    #[command(flatten)]
    pub on: AnalyticScope,
    /// Two or more numeric columns, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    pub columns: Vec<String>,
}

/// `histogram`.
#[derive(Debug, Args)]
pub struct HistogramArgs {
    #[command(flatten)]
    pub on: AnalyticScope,
    /// The value binned.
    #[arg(long)]
    pub value_column: String,
    /// Explicit bin edges, comma-separated…
    #[arg(long, value_delimiter = ',')]
    pub edges: Vec<f64>,
    /// …or this many equal bins between the minimum and the maximum.
    #[arg(long)]
    pub bins: Option<u32>,
}

/// `top-n`.
#[derive(Debug, Args)]
pub struct TopNArgs {
    #[command(flatten)]
    pub on: AnalyticScope,
    /// The value aggregated per group.
    #[arg(long)]
    pub value_column: String,
    /// The aggregate (count, sum, avg, min, max).
    #[arg(long)]
    pub function: String,
    /// How many groups.
    #[arg(long)]
    pub n: u32,
    /// Lowest first instead of highest.
    #[arg(long)]
    pub ascending: bool,
}
