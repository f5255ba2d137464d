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
