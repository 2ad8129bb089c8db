//! A counting global allocator: [`CountingAlloc`] wraps the system allocator and keeps, per
//! thread, the net number of bytes that thread has allocated (allocations minus frees) in a
//! `const`-initialised thread-local `Cell` — no locks, no atomics, no allocation of its own.
//!
//! The binary installs it (`#[global_allocator] static A: weft::alloc_meter::CountingAlloc =
//! weft::alloc_meter::CountingAlloc;`); a patch's engine reads [`net_allocated`] from its
//! progress callback and stops an evaluation that grew the heap past its budget. When it is
//! not installed the counter stays 0 and nothing is ever stopped for memory.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator plus a per-thread count of net allocated bytes.
pub struct CountingAlloc;

thread_local! {
    static NET: Cell<i64> = const { Cell::new(0) };
}

#[inline]
fn add(n: i64) {
    // `try_with`: during thread teardown the slot may be gone; then the bytes are not counted.
    let _ = NET.try_with(|c| c.set(c.get().wrapping_add(n)));
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// bookkeeping touches only a thread-local `Cell<i64>` (no allocation, no re-entry).
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's `GlobalAlloc::alloc` contract, passed on unchanged.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            add(layout.size() as i64);
        }
        p
    }

    // SAFETY: as `alloc` — forwarded to `System` unchanged, plus a thread-local count.
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's `GlobalAlloc::alloc_zeroed` contract, passed on unchanged.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            add(layout.size() as i64);
        }
        p
    }

    // SAFETY: as `alloc` — forwarded to `System` unchanged, plus a thread-local count.
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through this allocator with this `layout`.
        unsafe { System.dealloc(ptr, layout) };
        add(-(layout.size() as i64));
    }

    // SAFETY: as `alloc` — forwarded to `System` unchanged, plus a thread-local count.
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from `System` through this allocator with this `layout`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            add(new_size as i64 - layout.size() as i64);
        }
        p
    }
}

/// Net bytes allocated by the calling thread so far (allocations minus frees made on it);
/// always 0 unless [`CountingAlloc`] is the global allocator. Only differences matter.
#[inline]
pub fn net_allocated() -> i64 {
    NET.try_with(Cell::get).unwrap_or(0)
}

/// Returns freed heap memory to the system (glibc keeps freed memory of a thread's arena for
/// reuse, so a burst of allocation — a patch stopped at its allocation budget — would stay in
/// the process's RSS for the rest of the session). Call it off the audio and scheduler
/// threads, after such a burst was freed; elsewhere it does nothing.
pub fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory at the heap's end and in free pages.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_through_the_allocator_methods() {
        // Called directly (the test binary may not install it as the global allocator).
        let a = CountingAlloc;
        let before = net_allocated();
        let layout = Layout::from_size_align(1 << 20, 8).unwrap();
        unsafe {
            let p = a.alloc(layout);
            assert!(!p.is_null());
            assert_eq!(net_allocated() - before, 1 << 20);
            let p = a.realloc(p, layout, 3 << 20);
            assert_eq!(net_allocated() - before, 3 << 20);
            a.dealloc(p, Layout::from_size_align(3 << 20, 8).unwrap());
        }
        assert_eq!(net_allocated(), before);
    }
}
