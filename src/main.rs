//! The `canarysim` command line: parses arguments, reads files, calls the
//! library, writes output. All logic lives in the library; this binary is the
//! only place that touches files, the terminal or the process exit code.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
