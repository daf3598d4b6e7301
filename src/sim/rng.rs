//! Random-number streams: one independent, portable stream per component.
//!
//! A run has one `u64` seed. Each component that draws random numbers (the
//! arrival process, a pod's latency sampler, a Locust user, the scraper's
//! noise) asks for its own stream by a name and an id, so adding a pod or a
//! second policy never shifts another component's draws. Streams are
//! [`ChaCha8Rng`], whose output rand documents as stable across versions and
//! platforms (unlike `StdRng` and `SmallRng`).

use rand::SeedableRng;
pub use rand::rngs::ChaCha8Rng;

/// The stream of component `component`, instance `id`, in the run seeded by `seed`.
pub fn stream(seed: u64, component: &str, id: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(stream_seed(seed, component, id))
}

/// The 64-bit seed of a stream: the run seed, the component's name and the id
/// mixed so that nearby inputs give unrelated outputs.
pub fn stream_seed(seed: u64, component: &str, id: u64) -> u64 {
    // FNV-1a over the name: stable, simple, and independent of std's hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in component.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    mix(mix(seed ^ h).wrapping_add(id))
}

/// SplitMix64's finaliser: a bijection on `u64` with good avalanche.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_are_stable_for_a_seed_and_differ_by_component_and_id() {
        let draws = |mut r: ChaCha8Rng| -> Vec<u64> { (0..3).map(|_| r.next_u64()).collect() };
        assert_eq!(
            draws(stream(1, "arrivals", 0)),
            draws(stream(1, "arrivals", 0))
        );
        assert_ne!(
            stream(1, "arrivals", 0).next_u64(),
            stream(1, "arrivals", 1).next_u64()
        );
        assert_ne!(
            stream(1, "arrivals", 0).next_u64(),
            stream(1, "pod", 0).next_u64()
        );
        assert_ne!(
            stream(1, "arrivals", 0).next_u64(),
            stream(2, "arrivals", 0).next_u64()
        );
    }

    #[test]
    fn value_stability_of_the_first_draws() {
        // Pinned: a change to the seeding scheme or the generator changes every
        // run's output, so it must show up here first.
        let mut r = stream(1, "arrivals", 0);
        let first: Vec<u64> = (0..2).map(|_| r.next_u64()).collect();
        assert_eq!(first, PINNED);
    }
    const PINNED: [u64; 2] = [11148221415364659047, 11991597543007235535];
}
