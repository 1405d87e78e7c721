//! The `blotter` command: a thin CLI over the library.
#![forbid(unsafe_code)]

fn main() {
    std::process::exit(blotter::cli::main());
}
