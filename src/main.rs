//! The `blotter` command: a thin CLI over the library.
#![forbid(unsafe_code)]

/// mimalloc instead of the system allocator: with sled (store layouts up to 4), which
/// copied and freed tree nodes on every write, glibc's malloc spent about a quarter of
/// `purge apply`'s CPU time in its free lists (docs/PERFORMANCE.md; not re-measured
/// with redb).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(blotter::cli::main());
}
