//! Fault injection: make a thread fail on purpose, to prove that weft notices and keeps the
//! take (tests and the soak use it; nobody else should).
//!
//! Read once from the environment variable `WEFT_FAULT`, a comma-separated list of:
//! - `scheduler-panic@BAR`: the scheduler thread panics when it starts planning bar `BAR`
//!   (0-based, as `on_bar(bar)` counts);
//! - `compile-panic@FILE`: the compile worker panics while loading the patch named `FILE`;
//! - `compile-worker-panic@FILE`: the compile worker panics outside any load, when a change
//!   of `FILE` arrives (its loop fails, not a patch).
//!
//! Without the variable every check is one load of a `OnceLock` and a `None`.

use std::sync::OnceLock;

#[derive(Debug, Default, PartialEq)]
struct Faults {
    scheduler_panic_bar: Option<u64>,
    compile_panic_file: Option<String>,
    compile_worker_panic_file: Option<String>,
}

fn parse(spec: &str) -> Faults {
    let mut f = Faults::default();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('@') {
            Some(("scheduler-panic", bar)) => f.scheduler_panic_bar = bar.trim().parse().ok(),
            Some(("compile-panic", file)) => f.compile_panic_file = Some(file.trim().to_string()),
            Some(("compile-worker-panic", file)) => {
                f.compile_worker_panic_file = Some(file.trim().to_string())
            }
            _ => {}
        }
    }
    f
}

fn faults() -> &'static Faults {
    static F: OnceLock<Faults> = OnceLock::new();
    F.get_or_init(|| parse(&std::env::var("WEFT_FAULT").unwrap_or_default()))
}

/// Panics if the scheduler was asked to die at `bar`.
pub fn scheduler_bar(bar: u64) {
    if faults().scheduler_panic_bar == Some(bar) {
        panic!("injected fault: scheduler-panic@{bar} (WEFT_FAULT)");
    }
}

/// Panics if the compile worker was asked to die loading `file`.
pub fn compile_file(file: &str) {
    if faults().compile_panic_file.as_deref() == Some(file) {
        panic!("injected fault: compile-panic@{file} (WEFT_FAULT)");
    }
}

/// Panics if the compile worker was asked to die (outside a load) on a change of `file`.
pub fn compile_worker_change(file: &str) {
    if faults().compile_worker_panic_file.as_deref() == Some(file) {
        panic!("injected fault: compile-worker-panic@{file} (WEFT_FAULT)");
    }
}

/// The text of a caught panic's payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-text payload".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_fault_list() {
        assert_eq!(parse(""), Faults::default());
        let f = parse("scheduler-panic@3, compile-panic@a.rhai,bogus");
        assert_eq!(f.scheduler_panic_bar, Some(3));
        assert_eq!(f.compile_panic_file.as_deref(), Some("a.rhai"));
    }

    #[test]
    fn panic_messages_are_read_back() {
        let p = std::panic::catch_unwind(|| panic!("boom {}", 1)).unwrap_err();
        assert_eq!(panic_message(&*p), "boom 1");
        let p = std::panic::catch_unwind(|| panic!("static")).unwrap_err();
        assert_eq!(panic_message(&*p), "static");
    }
}
