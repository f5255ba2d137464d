//! Query log export as JSON (an array of records) or CSV (one row per record).

use std::str::FromStr;

use super::QueryRecord;

/// Export formats of `ExportQueryLog`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// A JSON array.
    Json,
    /// CSV with a header row.
    Csv,
}

impl FromStr for ExportFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "" | "json" => Ok(ExportFormat::Json),
            "csv" => Ok(ExportFormat::Csv),
            other => Err(format!(
                "unknown export format `{other}`: use \"json\" or \"csv\""
            )),
        }
    }
}

impl ExportFormat {
    /// The MIME type of the export.
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Json => "application/json",
            ExportFormat::Csv => "text/csv",
        }
    }
}

pub(super) fn encode(records: &[QueryRecord], format: ExportFormat) -> Vec<u8> {
    match format {
        ExportFormat::Json => serde_json::to_vec_pretty(records).unwrap_or_default(),
        ExportFormat::Csv => csv(records).unwrap_or_else(|err| {
            tracing::error!(%err, "query log not written as CSV");
            Vec::new()
        }),
    }
}

const CSV_HEADER: [&str; 15] = [
    "query_id",
    "method",
    "table",
    "state",
    "started_unix_ms",
    "duration_ms",
    "rows_scanned",
    "rows_returned",
    "bytes_scanned",
    "splits",
    "endpoints",
    "cache_hit",
    "slow",
    "error",
    "caller",
];

fn csv(records: &[QueryRecord]) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(CSV_HEADER)?;
    for r in records {
        let started = r
            .started
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        writer.write_record([
            r.query_id.clone(),
            r.method.clone(),
            r.table.clone(),
            r.state.as_str().to_owned(),
            started.to_string(),
            format!("{:.3}", r.duration_ms),
            r.rows_scanned.to_string(),
            r.rows_returned.to_string(),
            r.bytes_scanned.to_string(),
            r.splits.to_string(),
            r.endpoints.join(" "),
            r.cache_hit.to_string(),
            r.slow.to_string(),
            r.error.clone(),
            r.caller.clone(),
        ])?;
    }
    writer.into_inner().map_err(|err| err.into_error().into())
}
