//! Replica math for a canary with traffic routing (Argo's
//! `CalculateReplicaCountsForTrafficRoutedCanary`): the canary gets
//! `ceil(weight · N / 100)` pods and the stable stays at N.

/// Desired pods of each ReplicaSet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Canary pods.
    pub canary: u32,
    /// Stable pods.
    pub stable: u32,
}

/// Counts for `replicas` N at canary weight `weight` (percent), with traffic routing.
pub fn traffic_routed_counts(replicas: u32, weight: u32) -> Counts {
    let w = weight.min(100);
    Counts {
        canary: (u64::from(w) * u64::from(replicas)).div_ceil(100) as u32,
        stable: replicas,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traffic_routed_canary_is_ceil_of_weight_times_replicas_and_stable_stays() {
        let got: Vec<(u32, u32)> = [5, 20, 50, 100]
            .iter()
            .map(|w| {
                let c = traffic_routed_counts(5, *w);
                (c.canary, c.stable)
            })
            .collect();
        // 5% of 5 = 0.25 → 1; 20% = 1; 50% = 2.5 → 3; 100% = 5.
        assert_eq!(got, [(1, 5), (1, 5), (3, 5), (5, 5)]);
        assert_eq!(traffic_routed_counts(5, 0).canary, 0);
        assert_eq!(traffic_routed_counts(10, 15).canary, 2);
    }
}
