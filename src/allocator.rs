//! The process allocator: jemalloc, told to keep the pages it frees for reuse, and a timer
//! that hands them back to the OS.
//!
//! Why jemalloc: Arrow's many short-lived buffers of 100 KiB–1 MiB cost glibc an mmap, page
//! faults and an munmap each; jemalloc reuses them (a Flight pull of 10M rows takes 6 % less
//! CPU and 4–10 % less time; benches/RESULTS.md). DuckDB's C++ allocations are not affected:
//! the allocator's symbols are prefixed.
//!
//! Why no decay: with jemalloc's time-based purging, the large blocks of one request (a
//! 500k-point MovingAverage response is 48 MB of structs and a 15 MB message) were faulted in
//! afresh on every request — page faults were 18 % of that benchmark's profile; building and
//! dropping the response took 3x as long, encoding it 1.4x, a client's decoding 2.4x (client
//! and server shared the process). Freed pages now stay with the
//! allocator, and [`release_free_memory_every`] returns them on a timer, so the resident size
//! still falls back after a burst.

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
mod tests {
    use super::*;

    /// Reads a `ssize_t` jemalloc option.
    fn read_isize(name: &std::ffi::CStr) -> isize {
        let mut value: isize = 0;
        let mut len = std::mem::size_of::<isize>();
        // SAFETY: `value` and `len` are valid for writes and `len` is `value`'s size.
        #[allow(unsafe_code)]
        let rc = unsafe {
            tikv_jemalloc_sys::mallctl(
                name.as_ptr(),
                (&raw mut value).cast(),
                &mut len,
                std::ptr::null_mut(),
                0,
            )
        };
        assert_eq!(rc, 0, "mallctl {name:?}");
        value
    }

    /// This process's resident size in bytes (`VmRSS`, which needs no page size).
    #[cfg(target_os = "linux")]
    fn resident_bytes() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS");
        kib * 1024
    }

    #[test]
    fn the_library_allocator_is_jemalloc_without_decay() {
        assert_eq!(read_isize(c"opt.dirty_decay_ms"), -1);
        assert_eq!(read_isize(c"opt.muzzy_decay_ms"), -1);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn release_hands_freed_pages_back() {
        // 64 MiB touched and freed stays resident with the allocator until released. Other
        // tests allocate meanwhile, so 48 of the 64 MiB must show, in one of three tries.
        let mut drops = Vec::new();
        for _ in 0..3 {
            let block = vec![1u8; 64 << 20];
            assert_eq!(block.iter().map(|&b| u64::from(b)).sum::<u64>(), 64 << 20);
            drop(block);
            let before = resident_bytes();
            release_free_memory();
            let after = resident_bytes();
            let dropped = before.saturating_sub(after);
            if dropped >= 48 << 20 {
                return;
            }
            drops.push(dropped);
        }
        panic!("releasing dropped the resident size by only {drops:?} bytes");
    }
}
