//! The `vastgate` binary: parse the command line, load the config, run.

use std::{collections::HashMap, process::ExitCode, sync::Arc};

use clap::Parser;
use vastgate::{
    allocator, auth,
    cli::{Cli, Command, EmulateArgs, ServeArgs, TokenCommand},
    config::{BackendKind, Config},
    emulator, gen_data, probe, server,
    state::AppState,
    telemetry,
};

/// `EX_CONFIG` from sysexits.h: the configuration is wrong.
const EXIT_CONFIG: u8 = 64;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve(args).await,
            Command::GenData(args) => {
                telemetry::init(&Default::default());
                match gen_data::generate(&args.out, args.rows, args.seed) {
                    Ok(summary) => {
                        tracing::info!("{summary}");
                        ExitCode::SUCCESS
                    }
                    Err(err) => {
                        eprintln!("gen-data failed: {err}");
                        ExitCode::FAILURE
                    }
                }
            }
            Command::Emulate(args) => emulate(args).await,
            Command::Client(args) => vastgate::client::run(args).await,
            Command::Probe(args) => {
                let ca_file = args.ca_file.as_deref();
                match probe::probe(&args.http, &args.path, ca_file, args.timeout).await {
                    Ok(summary) => {
                        println!("{summary}");
                        ExitCode::SUCCESS
                    }
                    Err(why) => {
                        eprintln!("{why}");
                        ExitCode::FAILURE
                    }
                }
            }
            Command::Token(TokenCommand::New(args)) => {
                if args.name.trim().is_empty() {
                    eprintln!("--name must not be empty");
                    return ExitCode::from(EXIT_CONFIG);
                }
                let (token, entry) = auth::new_token(&args.name, args.role, args.schemas);
                println!("{token}");
                print!("{entry}");
                ExitCode::SUCCESS
            }
        }
    });
    // Calls had their grace period in `serve`; blocking work still running after it (a
    // DuckDB query that yields nothing yet, a Parquet split) must not hold the exit, which
    // dropping the runtime would wait for.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    code
}

async fn emulate(args: EmulateArgs) -> ExitCode {
    telemetry::init(&Default::default());
    if args.demo {
        match gen_data::ensure_demo(&args.data) {
            Ok(Some(summary)) => tracing::info!("{summary}"),
            Ok(None) => {}
            Err(err) => {
                eprintln!("cannot write the demo dataset: {err}");
                return ExitCode::FAILURE;
            }
        }
    }
    let faults = match args.faults.as_deref().map(serde_json::from_str).transpose() {
        Ok(faults) => faults.unwrap_or_default(),
        Err(err) => {
            eprintln!("--faults is not a fault config: {err}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(err) => {
            eprintln!("cannot bind --listen {}: {err}", args.listen);
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match listener.local_addr() {
        Ok(addr) => tracing::info!("listening on {addr}"),
        Err(err) => tracing::warn!("listener has no address: {err}"),
    }
    let config = emulator::EmulatorConfig {
        data_dir: args.data,
        bucket: args.bucket,
        access_key: args.access_key,
        secret_key: args.secret_key,
        faults,
        page_cache_bytes: args.page_cache_mb.saturating_mul(1 << 20),
        tls: args
            .tls_cert
            .zip(args.tls_key)
            .map(|(cert, key)| emulator::TlsFiles { cert, key }),
    };
    let _release = allocator::release_free_memory_every(allocator::DEFAULT_RELEASE_INTERVAL);
    match emulator::serve(listener, config, server::shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("emulator failed: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: ServeArgs) -> ExitCode {
    let env: HashMap<String, String> = std::env::vars().collect();
    let mut config = match Config::from_sources(args.config.as_deref(), &env) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if let Some(data) = args.data {
        config.local.data_dir = data;
    }
    if let Some(addr) = args.grpc_listen {
        config.server.grpc_listen = addr;
    }
    if let Some(addr) = args.http_listen {
        config.server.http_listen = addr;
    }
    telemetry::init(&config.telemetry);

    if args.demo && config.backend.kind == BackendKind::Local {
        match gen_data::ensure_demo(&config.local.data_dir) {
            Ok(Some(summary)) => tracing::info!("{summary}"),
            Ok(None) => {}
            Err(err) => {
                tracing::error!("cannot write the demo dataset: {err}");
                return ExitCode::FAILURE;
            }
        }
    }

    let state: Arc<AppState> = match AppState::new(config) {
        Ok(state) => state,
        Err(err) => {
            eprintln!("invalid configuration: {err}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if let Err(err) = state.catalog.backend().startup_check().await {
        eprintln!("the storage does not match the configuration: {err}");
        return ExitCode::from(EXIT_CONFIG);
    }
    let server_config = &state.config.server;
    let grpc = match tokio::net::TcpListener::bind(server_config.grpc_listen).await {
        Ok(l) => l,
        Err(err) => {
            eprintln!(
                "cannot bind server.grpc_listen {}: {err}",
                server_config.grpc_listen
            );
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let http = match tokio::net::TcpListener::bind(server_config.http_listen).await {
        Ok(l) => l,
        Err(err) => {
            eprintln!(
                "cannot bind server.http_listen {}: {err}",
                server_config.http_listen
            );
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    for (name, listener) in [("grpc", &grpc), ("http", &http)] {
        match listener.local_addr() {
            Ok(addr) => tracing::info!("{name} listening on {addr}"),
            Err(err) => tracing::warn!("{name} listener has no address: {err}"),
        }
    }
    tracing::info!(
        backend = state.catalog.backend().kind(),
        data = %state.config.local.data_dir.display(),
        "vastgate started"
    );
    match server::serve(grpc, http, state, server::shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err @ server::ServeError::Tls(_)) => {
            eprintln!("invalid configuration: {err}");
            ExitCode::from(EXIT_CONFIG)
        }
        Err(err) => {
            tracing::error!("server failed: {err}");
            ExitCode::FAILURE
        }
    }
}
