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
        ExportFormat::Csv => csv(records).into_bytes(),
    }
}

fn csv(records: &[QueryRecord]) -> String {
    let mut out = String::from(
        "query_id,method,table,state,started_unix_ms,duration_ms,rows_scanned,rows_returned,\
         bytes_scanned,splits,endpoints,cache_hit,slow,error\n",
    );
    for r in records {
        let started = r
            .started
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let fields = [
            field(&r.query_id),
            field(&r.method),
            field(&r.table),
            r.state.as_str().to_owned(),
            started.to_string(),
            format!("{:.3}", r.duration_ms),
            r.rows_scanned.to_string(),
            r.rows_returned.to_string(),
            r.bytes_scanned.to_string(),
            r.splits.to_string(),
            field(&r.endpoints.join(" ")),
            r.cache_hit.to_string(),
            r.slow.to_string(),
            field(&r.error),
        ];
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

/// RFC 4180 quoting.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}
