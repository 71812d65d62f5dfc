//! Process-wide allocator tuning, for the programs that host the proxy (never called by the
//! library on its own).

/// Allocations from this size up are mapped on their own, so freeing one returns it at once.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MAPPED_FROM_BYTES: i32 = 128 * 1024;

/// Has glibc give large blocks back to the system as soon as they are freed.
///
/// Left alone, glibc raises its mmap threshold to the size of the largest block freed so far (up
/// to 32 MiB); after one request with a 10 MB image, the next large bodies come from a heap that
/// fragments and keeps the memory, and the proxy's RSS stays 20–40 MB above its baseline.
/// A fixed threshold keeps a large request's cost at about twice its size, and only while it
/// runs. Elsewhere (macOS, Windows, musl) this does nothing. Returns false when glibc refused.
pub fn return_large_allocations_when_freed() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes an allocator setting; glibc allows it at any time and
        // from any thread, and it touches no memory of ours.
        #[allow(unsafe_code)]
        let set = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MAPPED_FROM_BYTES) };
        set == 1
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        true
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn glibc_accepts_the_threshold() {
        assert!(super::return_large_allocations_when_freed());
    }
}
