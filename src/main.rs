//! The `canarysim` command line: parses arguments, reads files, calls the
//! library, writes output. All logic lives in the library; this binary is the
//! only place that touches files, the terminal or the process exit code.

mod cli;

use std::process::ExitCode;

// mimalloc, not the system allocator: a sweep allocates and frees many small
// vectors on every thread (PromQL results, label sets), and glibc's malloc
// and free were 12 % of its instructions. Measured on the 900-run batched
// memory-trend sweep on 2 threads: 5.02-5.60 s -> 4.81-4.84 s, the same
// bytes; single runs are unchanged. Built with `no_thp`: by default it
// asks for transparent huge pages over its whole 1 GiB arena
// (madvise(MADV_HUGEPAGE)), so each first touch of 2 MiB zeroes, and may
// compact memory for, a whole huge page. That doubled peak RSS (the sweep
// 21 -> 49 MB, the 6,000 req/s case 20 -> 37 MB) and put the kernel's page
// clearing at up to a quarter of a run's time in some runs; without it the
// same runs are as fast or faster, at 27 and 22 MB.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    cli::main()
}
