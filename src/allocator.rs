//! The process allocator: jemalloc, told to keep the pages it frees for reuse, and a timer
//! that hands them back to the OS.
//!
//! Why jemalloc: Arrow's many short-lived buffers of 100 KiB–1 MiB cost glibc an mmap, page
//! faults and an munmap each; jemalloc reuses them. DuckDB's C++ allocations are not
//! affected: the allocator's symbols are prefixed.
//!
//! Why no decay: with jemalloc's time-based purging, the large blocks of one request were
//! faulted in afresh on every request. Freed pages stay with the allocator, and
//! [`release_free_memory_every`] returns them on a timer, so the resident size still falls
//! back after a burst. Measurements: `benches/RESULTS.md`.

use std::time::Duration;

/// Declared here, in the library, so the binary, its tests and the benchmarks all run it.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read by its first allocation: free pages are never purged on a timer
/// of jemalloc's own (`-1`), only by [`release_free_memory`].
// export_name is an unsafe attribute: this symbol must be the C string pointer jemalloc reads
// as `malloc_conf` (prefixed `_rjem_`, as tikv-jemalloc-sys builds it); it is.
#[allow(unsafe_code)]
#[unsafe(export_name = "_rjem_malloc_conf")]
#[used]
static MALLOC_CONF: &[u8; 36] = b"dirty_decay_ms:-1,muzzy_decay_ms:-1\0";

/// How often a service gives free memory back when the config does not say.
pub const DEFAULT_RELEASE_INTERVAL: Duration = Duration::from_secs(10);

/// Hands every page the allocator holds but no allocation uses back to the OS.
pub fn release_free_memory() {
    // 4096 is MALLCTL_ARENAS_ALL: every arena.
    let name = c"arena.4096.purge";
    // SAFETY: `name` is a NUL-terminated mallctl name; purge reads and writes no values, so
    // all four value pointers are null with length 0, as jemalloc requires for it.
    #[allow(unsafe_code)]
    let rc = unsafe {
        tikv_jemalloc_sys::mallctl(
            name.as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    };
    if rc != 0 {
        tracing::warn!(errno = rc, "jemalloc purge failed");
    }
}

/// Runs [`release_free_memory`] every `interval` (never for zero) until the returned guard
/// is dropped.
pub fn release_free_memory_every(interval: Duration) -> ReleaseTask {
    if interval.is_zero() {
        return ReleaseTask(None);
    }
    let task = tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            // madvise over a large heap can take milliseconds: off the async workers.
            if tokio::task::spawn_blocking(release_free_memory)
                .await
                .is_err()
            {
                return;
            }
        }
    });
    ReleaseTask(Some(task))
}

/// Stops the periodic release when dropped.
#[derive(Debug)]
#[must_use = "the release stops when this is dropped"]
pub struct ReleaseTask(Option<tokio::task::JoinHandle<()>>);

impl Drop for ReleaseTask {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests;
