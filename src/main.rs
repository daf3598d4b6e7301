//! The `canarysim` command line: parses arguments, reads files, calls the
//! library, writes output. All logic lives in the library.

fn main() {
    println!("canarysim {}", env!("CARGO_PKG_VERSION"));
}
