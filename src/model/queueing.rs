//! Stationary queueing laws for the batched traffic model: how long a
//! request waits for a worker, and the distribution of its response time.
//!
//! Flow: the batched engine (`crate::engine`, `batch.rs`) gives a pod's
//! arrival rate, workers and service-time distribution; this file answers
//! with a [`Wait`] (who waits, and for how long) and a [`Response`] per
//! endpoint (histogram bucket probabilities, mean and variance of the
//! response time). Pure functions, no state, no random numbers.
//!
//! The wait follows M/M/c (Erlang C, computed through the Erlang B
//! recursion; Tijms, *A First Course in Stochastic Models*): a request waits
//! with probability C(c, a), and a request that waits waits Exp(cμ − λ).
//! For other service times this is the two-moment-free M/M/c shape, which is
//! exact for exponential service and approximate otherwise (docs/scenario.md
//! says where it is not faithful). A backlog carried from an overload adds a
//! fixed wait in front.

use super::profile::LatencyDist;

/// The probability that an arrival waits in an M/M/c queue with `c` workers
/// and offered load `a = λ·E[S]` (Erlang C); 1 when `a ≥ c`.
pub fn erlang_c(c: u32, a: f64) -> f64 {
    if a <= 0.0 {
        return 0.0;
    }
    let c_f = f64::from(c);
    if a >= c_f {
        return 1.0;
    }
    let mut b = 1.0;
    for k in 1..=c {
        b = a * b / (f64::from(k) + a * b);
    }
    c_f * b / (c_f - a * (1.0 - b))
}

/// The wait before service: a fixed `shift` (a backlog ahead), then with
/// probability `p` an exponential wait of rate `theta`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Wait {
    /// Seconds every request waits first.
    pub shift: f64,
    /// Probability of the exponential part.
    pub p: f64,
    /// Rate of the exponential part, per second.
    pub theta: f64,
}

impl Wait {
    /// No wait at all.
    pub const NONE: Wait = Wait {
        shift: 0.0,
        p: 0.0,
        theta: 1.0,
    };

    /// The stationary M/M/c wait at arrival rate `lambda` (per second), `c`
    /// workers and mean service time `es` seconds; `None` when the queue is
    /// not stable (λ·E[S] ≥ c).
    pub fn mmc(lambda: f64, c: u32, es: f64) -> Option<Wait> {
        let a = lambda * es;
        if a >= f64::from(c) {
            return None;
        }
        Some(Wait {
            shift: 0.0,
            p: erlang_c(c, a),
            theta: f64::from(c) / es - lambda,
        })
    }

    /// Mean wait, seconds.
    pub fn mean(&self) -> f64 {
        self.shift + self.p / self.theta
    }

    /// Variance of the wait, seconds².
    pub fn variance(&self) -> f64 {
        let m = self.p / self.theta;
        2.0 * self.p / (self.theta * self.theta) - m * m
    }
}

/// What the histogram of one endpoint sees for one (pod, load) state.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// Probability of each bucket (not cumulative), `+Inf` last: one more
    /// than the endpoint's bounds.
    pub buckets: Vec<f64>,
    /// Mean response time, seconds.
    pub mean: f64,
    /// Variance of the response time, seconds².
    pub variance: f64,
}

impl Response {
    /// The response time `T = W + g·S` of a request whose service time `S`
    /// follows `dist`, slowed by `g`, after a wait `w`, in a histogram with
    /// these finite upper bounds (and the implicit `+Inf`).
    pub fn of(dist: &LatencyDist, g: f64, w: &Wait, bounds: &[f64]) -> Response {
        let mut buckets = Vec::with_capacity(bounds.len() + 1);
        let mut below = 0.0;
        for le in bounds {
            // Once the distribution function reaches 1 every later bound
            // holds it (the clamp keeps it monotone), so the costlier ones
            // at the tail are not worked out.
            let f = if below >= 1.0 {
                1.0
            } else {
                response_cdf(dist, g, w, *le).clamp(below, 1.0)
            };
            buckets.push(f - below);
            below = f;
        }
        buckets.push((1.0 - below).max(0.0));
        Response {
            buckets,
            mean: w.mean() + g * dist.mean(),
            variance: w.variance() + g * g * dist.variance(),
        }
    }
}

/// P(W + g·S ≤ x).
pub fn response_cdf(dist: &LatencyDist, g: f64, w: &Wait, x: f64) -> f64 {
    let y = x - w.shift;
    if y < 0.0 {
        return 0.0;
    }
    let served = dist.cdf(y / g);
    if w.p <= 0.0 {
        return served;
    }
    (1.0 - w.p) * served + w.p * cdf_plus_exp(dist, g, w.theta, y)
}

/// P(g·S + E ≤ y) with E ~ Exp(θ) independent of S.
fn cdf_plus_exp(dist: &LatencyDist, g: f64, theta: f64, y: f64) -> f64 {
    match dist {
        LatencyDist::Constant { secs } => {
            let s = g * secs;
            if y < s {
                0.0
            } else {
                1.0 - (-theta * (y - s)).exp()
            }
        }
        LatencyDist::Exponential { mean, .. } => {
            // Hypoexponential: the sum of two exponentials.
            let mu = 1.0 / (g * mean);
            if ((theta - mu) / mu).abs() < 1e-9 {
                1.0 - (-mu * y).exp() * (1.0 + mu * y)
            } else {
                1.0 - (theta * (-mu * y).exp() - mu * (-theta * y).exp()) / (theta - mu)
            }
        }
        LatencyDist::LogNormal { .. } => {
            // ∫₀^y θe^{−θe}·F_S((y−e)/g) de; with u = 1 − e^{−θe} it is
            // ∫₀^U F_S((y + ln(1−u)/θ)/g) du, U = 1 − e^{−θy}, which
            // Gauss–Legendre integrates well (a bounded, monotone integrand).
            let upper = 1.0 - (-theta * y).exp();
            let half = upper / 2.0;
            let mut sum = 0.0;
            for (node, weight) in GAUSS_LEGENDRE_16 {
                for sign in [-1.0, 1.0] {
                    let u = half + sign * node * half;
                    let e = -(1.0 - u).ln() / theta;
                    sum += weight * dist.cdf(((y - e) / g).max(0.0));
                }
            }
            sum * half
        }
    }
}

/// Gauss–Legendre nodes (positive half) and weights, 16 points on [−1, 1]
/// (Abramowitz & Stegun, table 25.4).
const GAUSS_LEGENDRE_16: [(f64, f64); 8] = [
    (0.095_012_509_837_637_44, 0.189_450_610_455_068_5),
    (0.281_603_550_779_258_9, 0.182_603_415_044_923_6),
    (0.458_016_777_657_227_4, 0.169_156_519_395_002_5),
    (0.617_876_244_402_643_7, 0.149_595_988_816_576_7),
    (0.755_404_408_355_003, 0.124_628_971_255_533_9),
    (0.865_631_202_387_831_7, 0.095_158_511_682_492_78),
    (0.944_575_023_073_232_6, 0.062_253_523_938_647_89),
    (0.989_400_934_991_649_9, 0.027_152_459_411_754_09),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Erlang C against values computed from its closed form
    /// C = [aᶜ/c!·c/(c−a)] / [Σ_{k<c} aᵏ/k! + aᶜ/c!·c/(c−a)] (Tijms).
    #[test]
    fn erlang_c_matches_its_closed_form() {
        fn closed(c: u32, a: f64) -> f64 {
            let mut sum = 0.0;
            let mut term = 1.0;
            for k in 0..c {
                if k > 0 {
                    term *= a / f64::from(k);
                }
                sum += term;
            }
            let top = term * a / f64::from(c) * f64::from(c) / (f64::from(c) - a);
            top / (sum + top)
        }
        for (c, a) in [(1, 0.5), (1, 0.95), (4, 2.0), (4, 3.8), (16, 12.0)] {
            let got = erlang_c(c, a);
            assert!((got - closed(c, a)).abs() < 1e-12, "c={c} a={a}: {got}");
        }
        // M/M/1: the probability of waiting is the utilisation.
        assert!((erlang_c(1, 0.8) - 0.8).abs() < 1e-12);
    }

    /// The response-time CDF of M/M/1 is Exp(μ − λ) (Kleinrock, *Queueing
    /// Systems* vol. 1, §3.2): the mixture with the hypoexponential must
    /// collapse to it.
    #[test]
    fn mm1_response_time_is_exponential_with_rate_mu_minus_lambda() {
        let dist = LatencyDist::exponential(0.1).unwrap();
        let w = Wait::mmc(8.0, 1, 0.1).unwrap();
        for x in [0.05_f64, 0.2, 0.5, 1.0] {
            let want = 1.0 - (-(10.0_f64 - 8.0) * x).exp();
            let got = response_cdf(&dist, 1.0, &w, x);
            assert!((got - want).abs() < 1e-9, "x={x}: {got} vs {want}");
        }
        let r = Response::of(&dist, 1.0, &w, &crate::model::histogram::DEFAULT_BUCKETS);
        assert!((r.mean - 0.5).abs() < 1e-12, "mean {}", r.mean);
        assert!((r.buckets.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    /// A constant service time with no wait puts every request in the first
    /// bucket at or above it and none past it, however many bounds follow
    /// (they are not worked out once the distribution reaches 1).
    #[test]
    fn a_response_law_past_its_last_request_holds_nothing() {
        let dist = LatencyDist::constant(0.1).unwrap();
        let r = Response::of(&dist, 1.0, &Wait::NONE, &[0.05, 0.1, 0.25, 0.5, 1.0]);
        assert_eq!(r.buckets, vec![0.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
        // Slowed down by 3, the same requests land in the 0.5 s bucket.
        let r = Response::of(&dist, 3.0, &Wait::NONE, &[0.05, 0.1, 0.25, 0.5, 1.0]);
        assert_eq!(r.buckets, vec![0.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
    }

    /// The log-normal distribution function meets the median and p99 it was
    /// given: 0.5 and 0.99 there.
    #[test]
    fn lognormal_cdf_is_a_half_at_its_median_and_099_at_its_p99() {
        let dist = LatencyDist::log_normal(0.025, 0.12).unwrap();
        assert!((dist.cdf(0.025) - 0.5).abs() < 1e-12);
        assert!((dist.cdf(0.12) - 0.99).abs() < 1e-6, "{}", dist.cdf(0.12));
        assert_eq!(dist.cdf(0.0), 0.0);
    }

    /// For log-normal service the quadrature must agree with a Monte Carlo
    /// estimate of P(S + E ≤ x).
    #[test]
    fn lognormal_plus_exponential_quadrature_agrees_with_sampling() {
        use crate::sim::rng::stream;
        use rand_distr::{Distribution, Exp};
        let dist = LatencyDist::log_normal(0.025, 0.12).unwrap();
        let w = Wait {
            shift: 0.0,
            p: 1.0,
            theta: 20.0,
        };
        let mut rng = stream(3, "test", 0);
        let e = Exp::new(20.0).unwrap();
        let n = 400_000;
        let xs: Vec<f64> = (0..n)
            .map(|_| dist.sample(&mut rng) + e.sample(&mut rng))
            .collect();
        for x in [0.025, 0.05, 0.1, 0.25] {
            let mc = xs.iter().filter(|v| **v <= x).count() as f64 / n as f64;
            let got = response_cdf(&dist, 1.0, &w, x);
            // 4 standard errors of the Monte Carlo estimate.
            let se = (mc * (1.0 - mc) / n as f64).sqrt();
            assert!((got - mc).abs() < 4.0 * se + 1e-4, "x={x}: {got} vs {mc}");
        }
    }
}
