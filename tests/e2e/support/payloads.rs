//! Deterministic test payloads.

use rand::{Rng, SeedableRng};

/// `size` bytes derived from `seed`, different for every seed.
pub fn payload(seed: u64, size: usize) -> Vec<u8> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut bytes = vec![0u8; size];
    rng.fill(&mut bytes[..]);
    bytes
}
