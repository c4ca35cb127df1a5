//! Giving freed heap memory back to the system, once a minute.
//!
//! glibc's allocator keeps what a burst frees (a crowd of flooders' read buffers, queues that
//! grew while clients were slow) for reuse, and can seldom hand it back to the system while
//! longer-lived allocations sit among it. So without help the server's resident memory records
//! its highest peak so far rather than what it holds: the soak (docs/SECURITY.md, "Soak under
//! faults") saw it rise in steps of several MiB after such bursts, though the heap profile of
//! the same run showed the memory freed. `malloc_trim` returns free pages from every arena,
//! those between allocations too; it takes a few milliseconds, on a blocking thread.
//! Other allocators (and other C libraries) return memory by themselves: there this is a
//! no-op.

use std::time::Duration;

/// How often freed memory is handed back.
const INTERVAL: Duration = Duration::from_secs(60);

/// Hands freed memory back every [`INTERVAL`], for as long as the runtime runs.
pub async fn return_freed_memory_periodically() {
    let mut ticks = tokio::time::interval(INTERVAL);
    // The first tick is immediate: nothing has been freed yet.
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let _ = tokio::task::spawn_blocking(return_freed_memory).await;
    }
}

/// Asks the allocator to give free memory back to the system.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_freed_memory() {
    // SAFETY: malloc_trim has no preconditions; it only releases memory no allocation uses.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_freed_memory() {}
