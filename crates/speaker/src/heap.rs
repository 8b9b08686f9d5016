//! Hands freed heap memory back to the kernel after big changes.
//!
//! The speaker's memory peaks while it lists or re-lists thousands of Services and
//! EndpointSlices (JSON pages, decoded objects, the policy's intermediate maps). glibc keeps
//! those freed pages in its arenas, so the resident size stays near the peak for good; asking
//! glibc to trim them after the burst brings it down to what the speaker really holds.

/// Returns the free pages of every malloc arena to the kernel (glibc `malloc_trim(0)`); a no-op
/// with other C libraries. Costs about a millisecond per few tens of MiB of heap.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim takes a plain integer, touches only the allocator's own state
        // (under its arena locks, so it is safe to call from any thread at any time) and
        // returns a plain integer; no pointer or Rust-owned memory crosses the boundary.
        unsafe {
            libc::malloc_trim(0);
        }
    }
}
