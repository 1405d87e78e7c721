//! The `blotter` command: a thin CLI over the library.
#![forbid(unsafe_code)]

/// mimalloc instead of the system allocator: sled copies and frees tree nodes on every
/// write, and glibc's malloc spent about a quarter of `purge apply`'s CPU time in its
/// free lists (docs/PERFORMANCE.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(blotter::cli::main());
}
