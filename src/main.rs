//! The `weft` binary: installs the counting allocator and hands over to [`weft::cli`], where
//! each command is parsed and run.

use std::process::ExitCode;

/// Counts each thread's allocations so a patch evaluation that allocates without bound is
/// stopped at its budget (see `weft::alloc_meter`); otherwise the system allocator.
#[global_allocator]
static ALLOC: weft::alloc_meter::CountingAlloc = weft::alloc_meter::CountingAlloc;

fn main() -> ExitCode {
    weft::cli::main()
}
