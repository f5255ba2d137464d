//! Progress of long local work (`gen-data`, the demo data of `serve --demo` and
//! `emulate --demo`): a bar with rows, rate and ETA on a terminal, a plain log line every few
//! seconds otherwise (a container's log, CI).

use std::{
    io::IsTerminal,
    time::{Duration, Instant},
};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often the plain log line is written when stderr is not a terminal.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// Rows done out of a known total.
#[derive(Debug)]
pub struct RowProgress {
    label: String,
    total: u64,
    done: u64,
    started: Instant,
    last_log: Instant,
    bar: Option<ProgressBar>,
}

impl RowProgress {
    /// Starts reporting `label` (e.g. `demo.sensors`) towards `total` rows.
    pub fn start(label: &str, total: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{msg} {wide_bar} {human_pos}/{human_len} rows · {per_sec} · ETA {eta}",
            ) {
                bar.set_style(style);
            }
            bar.set_message(label.to_owned());
            bar
        });
        let now = Instant::now();
        Self {
            label: label.to_owned(),
            total,
            done: 0,
            started: now,
            last_log: now,
            bar,
        }
    }

    /// `rows` more are done.
    pub fn advance(&mut self, rows: u64) {
        self.done = self.done.saturating_add(rows).min(self.total);
        match &self.bar {
            Some(bar) => bar.set_position(self.done),
            None if self.last_log.elapsed() >= LOG_EVERY => {
                self.last_log = Instant::now();
                tracing::info!("{}", self.line());
            }
            None => {}
        }
    }

    /// The plain line: rows, share, rate and time left.
    pub fn line(&self) -> String {
        let elapsed = self.started.elapsed().as_secs_f64();
        let rate = if elapsed > 0.0 {
            self.done as f64 / elapsed
        } else {
            0.0
        };
        let left = self.total.saturating_sub(self.done) as f64;
        let eta = if rate > 0.0 {
            format!("{:.0}s", left / rate)
        } else {
            "unknown".to_owned()
        };
        let share = if self.total == 0 {
            100.0
        } else {
            self.done as f64 * 100.0 / self.total as f64
        };
        format!(
            "{}: {}/{} rows ({share:.0}%), {:.0} rows/s, ETA {eta}",
            self.label, self.done, self.total, rate
        )
    }
}

impl Drop for RowProgress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
