//! `Analyzer::push` must not allocate after construction: a counting global allocator
//! counts allocations made by this test's thread while it feeds 4 s of audio.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use weft::analysis::{Analyzer, AnalyzerConfig};

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: forwards every call unchanged to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(|c| c.get()) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(|c| c.get()) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn push_does_not_allocate_per_frame() {
    for (fft, hop) in [(2048, 512), (512, 128), (8192, 2048)] {
        let cfg = AnalyzerConfig {
            sample_rate: 48_000,
            fft,
            hop,
        };
        let mut a = Analyzer::new(cfg).unwrap();
        let x: Vec<f32> = (0..48_000 * 4)
            .map(|i| {
                ((i as f32 * 0.031).sin() + ((i as u64 * 7919) % 101) as f32 / 404.0)
                    * if i % 24_000 < 300 { 1.0 } else { 0.3 }
            })
            .collect();
        let mut frames = 0usize;
        let mut onsets = 0usize;
        ALLOCS.store(0, Ordering::Relaxed);
        COUNTING.with(|c| c.set(true));
        for block in x.chunks(256) {
            a.push(block, |f| {
                frames += 1;
                onsets += f.onset as usize;
            });
        }
        a.finish(|_| frames += 1);
        COUNTING.with(|c| c.set(false));
        assert!(
            frames > 80 && onsets > 0,
            "frames {frames}, onsets {onsets}"
        );
        assert_eq!(
            ALLOCS.load(Ordering::Relaxed),
            0,
            "fft {fft}: allocations while pushing"
        );
    }
}
