//! The benchmarks of `cargo bench -p bench` (`benches/backbone.rs` runs them and
//! prints their tables). Scratch data goes under `PORTCULLIS_BENCH_DIR` (default:
//! the system temp dir).

pub mod enqueue;
pub mod pushback;
