//! The command line: `serve`, `gen-data`, `emulate`, `token new`, `client`, `probe`.

use std::{net::SocketAddr, path::PathBuf};

use clap::{Args, Parser, Subcommand};

/// vastgate: gRPC analytics in front of VAST DB.
#[derive(Debug, Parser)]
#[command(name = "vastgate", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service.
    Serve(ServeArgs),
    /// Write the deterministic demo dataset (`demo.sensors`, `demo.orders`).
    GenData(GenDataArgs),
    /// Serve a Parquet folder over the VAST DB protocol (for tests and development).
    Emulate(EmulateArgs),
    /// Manage bearer tokens (`auth.tokens_file`).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Call a running server: list, describe, select, SQL, analytics, endpoints, queries.
    Client(crate::client::ClientArgs),
    /// Exit 0 if a running server's HTTP port answers `/readyz` (or `--path`) with 2xx: a
    /// container health check without curl.
    Probe(ProbeArgs),
}

/// `vastgate probe`.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The HTTP port: `HOST:PORT`, or a URL (`https://…` when `server.tls` is on).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9090")]
    pub http: String,
    /// The path asked.
    #[arg(long, default_value = "/readyz")]
    pub path: String,
    /// PEM certificates to trust for https besides the built-in roots.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Give up after this long.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "3s")]
    pub timeout: std::time::Duration,
}

/// `vastgate token …`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Mint a token: prints the token on the first line, then the `[[tokens]]` entry to append
    /// to the tokens file (which keeps only its SHA-256).
    New(NewTokenArgs),
}

/// `vastgate token new`.
#[derive(Debug, Args)]
pub struct NewTokenArgs {
    /// Who holds the token (shown in logs and the query log).
    #[arg(long)]
    pub name: String,
    /// `reader` (Query, Analytics, Flight) or `admin` (also AdminService).
    #[arg(long, value_enum)]
    pub role: crate::auth::Role,
    /// The only schemas the token may read, comma-separated (default: every schema).
    #[arg(long, value_delimiter = ',')]
    pub schemas: Option<Vec<String>>,
}

/// `vastgate serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML configuration file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data folder of the local backend (overrides `local.data_dir`).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Generate the demo dataset into the data folder first if it holds no tables.
    #[arg(long)]
    pub demo: bool,
    /// gRPC listen address (overrides `server.grpc_listen`); port 0 picks a free port.
    #[arg(long, value_name = "ADDR")]
    pub grpc_listen: Option<SocketAddr>,
    /// HTTP listen address (overrides `server.http_listen`); port 0 picks a free port.
    #[arg(long, value_name = "ADDR")]
    pub http_listen: Option<SocketAddr>,
}

/// `vastgate gen-data`.
#[derive(Debug, Args)]
pub struct GenDataArgs {
    /// Output folder; tables land in `OUT/demo/`.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Rows of `demo.sensors` (`demo.orders` gets a tenth).
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: u64,
    /// Random seed; the same seed gives the same files.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// `vastgate emulate`.
#[derive(Debug, Args)]
pub struct EmulateArgs {
    /// Folder served as the bucket (`<schema>/<table>.parquet`).
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Listen address; port 0 picks a free port.
    #[arg(long, value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Bucket name.
    #[arg(long, default_value = "vastgate")]
    pub bucket: String,
    /// Generate the demo dataset into the data folder first if it holds no tables.
    #[arg(long)]
    pub demo: bool,
    /// Access key clients must sign with.
    #[arg(long, default_value = "vastgate")]
    pub access_key: String,
    /// Secret key clients must sign with.
    #[arg(long, default_value = "vastgate-secret")]
    pub secret_key: String,
    /// Faults to inject, as JSON: `{"seed":1,"latency_ms":0,"error_rate":0.1,"error_status":503,
    /// "drop_after_frames":7,"stall_after_frames":3,"stall_ms":500,"stall_rate":0.05,"times":2}` (all optional).
    #[arg(long, value_name = "JSON")]
    pub faults: Option<String>,
    /// Keep up to this many MiB of encoded query_data pages and answer repeated requests from
    /// memory (0: off).
    #[arg(long, value_name = "MIB", default_value_t = 0)]
    pub page_cache_mb: u64,
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}
