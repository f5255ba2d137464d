//! A streamed answer (`Select`, `Sql`): Arrow IPC chunks decoded as they arrive and printed
//! batch by batch, with a progress line on a terminal.

use std::{
    io::IsTerminal,
    time::{Duration, Instant},
};

use arrow::{buffer::Buffer, ipc::reader::StreamDecoder};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{args::Format, failure::Failure, output::Printer};
use crate::proto::ArrowChunk;

/// Prints the batches of `chunks` in `format`.
pub(super) async fn print(
    mut chunks: tonic::Streaming<ArrowChunk>,
    format: Format,
) -> Result<(), Failure> {
    let progress = progress_line();
    let started = Instant::now();
    let mut decoder = StreamDecoder::new();
    let mut printer = Printer::new(format, std::io::BufWriter::new(std::io::stdout()));
    let (mut rows, mut bytes) = (0_u64, 0_u64);
    let bad_stream = |e: arrow::error::ArrowError| {
        Failure::new(
            tonic::Code::DataLoss,
            format!("the server's Arrow stream does not decode: {e}"),
        )
    };
    while let Some(chunk) = chunks.message().await? {
        bytes += chunk.data.len() as u64;
        let mut buffer = Buffer::from(chunk.data);
        while !buffer.is_empty() {
            let Some(batch) = decoder.decode(&mut buffer).map_err(bad_stream)? else {
                break;
            };
            rows += batch.num_rows() as u64;
            printer.write(&batch)?;
        }
        progress.set_message(format!(
            "{rows} rows, {:.1} MiB",
            bytes as f64 / f64::from(1 << 20)
        ));
    }
    decoder.finish().map_err(bad_stream)?;
    progress.finish_and_clear();
    printer.finish(decoder.schema().as_ref())?;
    if !progress.is_hidden() {
        eprintln!("{rows} rows in {:.2} s", started.elapsed().as_secs_f64());
    }
    Ok(())
}

/// A spinner with rows and bytes so far on a terminal's stderr; nothing otherwise.
fn progress_line() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}
