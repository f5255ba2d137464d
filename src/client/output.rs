//! Printing batches: an aligned table (buffered, since widths need every row), CSV with one
//! header row, or one JSON object per row (both streamed as batches arrive).

use std::{
    io::Write,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use arrow::{
    array::RecordBatch,
    csv,
    datatypes::SchemaRef,
    json::{WriterBuilder, writer::LineDelimited},
};

use super::{args::Format, failure::Failure};

/// Where rows go, in one format.
pub(super) struct Printer<W: Write> {
    sink: Sink<Watched<W>>,
    closed: Arc<AtomicBool>,
}

enum Sink<W: Write> {
    Table { out: W, batches: Vec<RecordBatch> },
    // Boxed: the CSV writer carries its formatting options inline.
    Csv(Box<csv::Writer<W>>),
    Json(arrow::json::Writer<W, LineDelimited>),
}

/// The output, noting when its reader went away: the CSV writer reports that as a string.
struct Watched<W> {
    inner: W,
    closed: Arc<AtomicBool>,
}

impl<W: Write> Write for Watched<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf).inspect_err(|e| self.note(e))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush().inspect_err(|e| self.note(e))
    }
}

impl<W> Watched<W> {
    fn note(&self, err: &std::io::Error) {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            self.closed.store(true, Ordering::Relaxed);
        }
    }
}

impl<W: Write> std::fmt::Debug for Printer<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Printer")
    }
}

fn io_failure(err: impl std::fmt::Display) -> Failure {
    Failure::new(tonic::Code::Internal, format!("writing the output: {err}"))
}

impl<W: Write> Printer<W> {
    /// A printer of `format` into `out`.
    pub(super) fn new(format: Format, out: W) -> Self {
        let closed = Arc::new(AtomicBool::new(false));
        let out = Watched {
            inner: out,
            closed: Arc::clone(&closed),
        };
        let sink = match format {
            Format::Table => Sink::Table {
                out,
                batches: Vec::new(),
            },
            Format::Csv => Sink::Csv(Box::new(
                csv::WriterBuilder::new().with_header(true).build(out),
            )),
            Format::Json => Sink::Json(WriterBuilder::new().with_explicit_nulls(true).build(out)),
        };
        Self { sink, closed }
    }

    /// A failure to write: the reader closing the output is no failure of the command.
    fn failed(&self, failure: Failure) -> Failure {
        if self.closed.load(Ordering::Relaxed) {
            Failure::output_closed()
        } else {
            failure
        }
    }

    /// Prints (or, for a table, keeps) `batch`.
    pub(super) fn write(&mut self, batch: &RecordBatch) -> Result<(), Failure> {
        let written = match &mut self.sink {
            Sink::Table { batches, .. } => {
                batches.push(batch.clone());
                Ok(())
            }
            Sink::Csv(writer) => writer.write(batch).map_err(io_failure),
            Sink::Json(writer) => writer.write(batch).map_err(io_failure),
        };
        written.map_err(|f| self.failed(f))
    }

    /// Ends the output; `schema` gives a CSV header or table heading when no row came.
    pub(super) fn finish(self, schema: Option<&SchemaRef>) -> Result<(), Failure> {
        let closed = Arc::clone(&self.closed);
        let finished = Self::finish_sink(self.sink, schema);
        match finished {
            Err(_) if closed.load(Ordering::Relaxed) => Err(Failure::output_closed()),
            other => other,
        }
    }

    fn finish_sink(sink: Sink<Watched<W>>, schema: Option<&SchemaRef>) -> Result<(), Failure> {
        match sink {
            Sink::Table {
                mut out,
                mut batches,
            } => {
                if batches.is_empty()
                    && let Some(schema) = schema
                {
                    batches.push(RecordBatch::new_empty(Arc::clone(schema)));
                }
                let table =
                    arrow::util::pretty::pretty_format_batches(&batches).map_err(io_failure)?;
                writeln!(out, "{table}").map_err(io_failure)?;
                out.flush().map_err(io_failure)
            }
            Sink::Csv(mut writer) => {
                if let Some(schema) = schema {
                    // Writes the header if no batch did.
                    writer
                        .write(&RecordBatch::new_empty(Arc::clone(schema)))
                        .map_err(io_failure)?;
                }
                writer.into_inner().flush().map_err(io_failure)
            }
            Sink::Json(mut writer) => {
                writer.finish().map_err(io_failure)?;
                writer.into_inner().flush().map_err(io_failure)
            }
        }
    }
}
