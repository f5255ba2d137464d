//! The integration test binary: a real server on 127.0.0.1:0 over generated demo data, called
//! through generated gRPC clients, checked against DuckDB reading the same Parquet files.

mod admin;
mod analytics;
mod binary;
mod client;
mod cluster;
mod cluster_process;
mod deploy;
mod explain;
mod flight;
mod flight_sql;
mod flight_sql_statements;
mod harness;
mod http;
mod lifecycle;
mod overload;
mod partials;
mod python;
mod query;
mod recorder;
mod referee;
mod security;
mod status_page;
mod tls;
mod vast;
mod vast_sdk;
