//! The `blotter` command: a thin CLI over the library.
#![forbid(unsafe_code)]

fn main() {
    std::process::exit(blotter_cli_main());
}

fn blotter_cli_main() -> i32 {
    eprintln!("blotter: under construction");
    2
}
