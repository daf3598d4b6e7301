//! The random counts the batched traffic model draws: Poisson, binomial and
//! multinomial, each exact (up to floating-point rounding) and cheap where
//! the batched model draws most.
//!
//! A saturated pod draws its service completions from the same Poisson law
//! batch after batch, and every pod draws its errors from a binomial with
//! the same small probability: [`PoissonLaw`] and [`Thinning`] keep what
//! those laws cost to set up, so that a draw is one uniform and a short
//! search. Everything else goes through [`binomial`] (inversion below a mean
//! of 10, Hörmann's transformed rejection above) and
//! [`multinomial`] (conditional binomials); [`hypergeometric_split`] marks
//! some of a split's items without replacement. Neighbours: `batch.rs` is the only
//! caller; every draw takes the caller's stream, so the model's streams stay
//! per pod.

use std::sync::OnceLock;

use rand_distr::{Distribution, Hypergeometric, Poisson};

use super::unit;
use crate::sim::rng::ChaCha8Rng;

/// A Poisson count with mean `mean` (0 for a mean of 0), from rand_distr
/// (Knuth below 12, Ahrens and Dieter's rejection above).
pub(crate) fn poisson(rng: &mut ChaCha8Rng, mean: f64) -> u64 {
    if mean <= 0.0 {
        return 0;
    }
    Poisson::new(mean).map_or(0, |d| d.sample(rng) as u64)
}

/// Means up to which [`PoissonLaw`] tabulates its distribution function:
/// e^{−500} is still a normal `f64`, and the table (about 800 entries) is a
/// few kilobytes.
const TABLE_MAX_MEAN: f64 = 500.0;

/// A Poisson law kept for repeated draws at one mean, rebuilt when the mean
/// moves. Up to [`TABLE_MAX_MEAN`] a draw is by inversion of the tabulated
/// distribution function (one uniform and a binary search: the "table
/// lookup" method, Devroye, *Non-Uniform Random Variate Generation* §III.3);
/// above it, rand_distr's sampler kept ready.
#[derive(Debug, Default)]
pub(crate) struct PoissonLaw {
    mean: f64,
    /// P(X ≤ k) for k = 0, 1, … up to mean + 12·√mean + 10 (the tail past
    /// it is below 10⁻³⁰).
    cdf: Vec<f64>,
    /// Where to start looking for a uniform u: `guide[j]` is the first k
    /// with P(X ≤ k) > j / len (Chen and Asau's guide table, Devroye
    /// §III.2.4), so that a search takes one or two steps.
    guide: Vec<u32>,
    large: Option<Poisson<f64>>,
}

impl PoissonLaw {
    /// A Poisson count with mean `mean`.
    pub fn sample(&mut self, rng: &mut ChaCha8Rng, mean: f64) -> u64 {
        if mean <= 0.0 || !mean.is_finite() {
            return 0;
        }
        if mean != self.mean {
            self.build(mean);
        }
        if let Some(d) = &self.large {
            return d.sample(rng) as u64;
        }
        let u = unit(rng);
        let len = self.cdf.len();
        let mut k = self.guide[((u * len as f64) as usize).min(len - 1)] as usize;
        while k < len && self.cdf[k] <= u {
            k += 1;
        }
        if k < len {
            return k as u64;
        }
        // Rounding left the table's last entry a few ulps short of 1 and
        // the uniform fell in that gap (probability about 10⁻¹⁶).
        poisson(rng, mean)
    }

    fn build(&mut self, mean: f64) {
        self.mean = mean;
        self.cdf.clear();
        self.guide.clear();
        self.large = None;
        if mean > TABLE_MAX_MEAN {
            self.large = Poisson::new(mean).ok();
            return;
        }
        let last = (mean + 12.0 * mean.sqrt() + 10.0) as usize;
        let mut p = (-mean).exp();
        let mut sum = p;
        self.cdf.push(sum);
        for k in 1..=last {
            p *= mean / k as f64;
            sum += p;
            self.cdf.push(sum);
        }
        let len = self.cdf.len();
        let mut k = 0;
        for j in 0..len {
            let u = j as f64 / len as f64;
            while k + 1 < len && self.cdf[k] <= u {
                k += 1;
            }
            self.guide.push(k as u32);
        }
    }
}

/// Below this mean n·p a binomial is drawn by inversion, above it by
/// transformed rejection (the bound both Kachitvichyanukul and Schmeiser's
/// BINV and Hörmann's BTRS are given for).
const INVERSION_BELOW: f64 = 10.0;

/// A binomial count Bin(n, p): by inversion ([`inverted`]) when n·p is
/// below 10, else by transformed rejection ([`transformed_rejection`]), for
/// p ≤ ½ (n − Bin(n, 1 − p) above).
#[inline]
pub(crate) fn binomial(rng: &mut ChaCha8Rng, n: u64, p: f64) -> u64 {
    if n == 0 || p <= 0.0 {
        return 0;
    }
    if p >= 1.0 {
        return n;
    }
    binomial_draw(rng, n, p)
}

fn binomial_draw(rng: &mut ChaCha8Rng, n: u64, p: f64) -> u64 {
    let (p, flipped) = if p > 0.5 { (1.0 - p, true) } else { (p, false) };
    let k = if (n as f64) * p < INVERSION_BELOW {
        inverted(rng, n, p, none_of(n, p))
    } else {
        transformed_rejection(rng, n, p)
    };
    if flipped { n - k } else { k }
}

/// Counts up to which [`none_of`] multiplies rather than goes through
/// logarithms.
const POWER_BY_PRODUCTS: u64 = 1024;

/// P(Bin(n, p) = 0) = qⁿ, q = 1 − p: by repeated squaring up to
/// [`POWER_BY_PRODUCTS`] (at most 20 products; the rounding of q to a
/// double, raised to the n, leaves a relative error of at most about
/// n·2⁻⁵³, 1.2·10⁻¹³ at 1024: a draw moves only if its uniform falls that
/// close to a step. A tenth of the cost of a logarithm and an exponential,
/// and most of a multinomial's draws are of a few requests), else as
/// exp(n · ln(1 − p)).
#[inline]
fn none_of(n: u64, p: f64) -> f64 {
    if n <= POWER_BY_PRODUCTS {
        let mut base = 1.0 - p;
        let mut e = n;
        let mut acc = 1.0;
        while e > 0 {
            if e & 1 == 1 {
                acc *= base;
            }
            base *= base;
            e >>= 1;
        }
        acc
    } else {
        (n as f64 * (-p).ln_1p()).exp()
    }
}

/// Bin(n, p) for p ≤ ½ and n·p below 10, by inversion (Kachitvichyanukul
/// and Schmeiser's BINV, as rand_distr has it): one uniform walked down
/// P(k) = P(k − 1)·((n + 1)·s/k − s), s = p/q, from `first` = P(0) = qⁿ.
/// Expected n·p + 1 steps. A uniform that rounding leaves past the last
/// step, or more than 110 steps out (probability below 10⁻⁶⁰ at n·p < 10),
/// is drawn again, as rand_distr does.
fn inverted(rng: &mut ChaCha8Rng, n: u64, p: f64, first: f64) -> u64 {
    const MAX_STEPS: u64 = 110;
    let s = p / (1.0 - p);
    let a = (n as f64 + 1.0) * s;
    'draw: loop {
        let mut r = first;
        let mut u = unit(rng);
        let mut x = 0;
        while u > r {
            u -= r;
            x += 1;
            if x > n || x > MAX_STEPS {
                continue 'draw;
            }
            r *= a / x as f64 - s;
        }
        return x;
    }
}

/// Bin(n, p) for p ≤ ½ and n·p ≥ 10 by Hörmann's transformed rejection
/// with squeeze, BTRS (W. Hörmann, "The generation of binomial random
/// variates", J. Statist. Comput. Simul. 46, 1993): k = ⌊(2a/u_s + b)·u +
/// c⌋ from two uniforms, accepted at once inside the squeeze (most draws),
/// else against the ratio of binomial probabilities f(k)/f(m) in logs.
/// About two uniforms a draw and no set-up beyond a square root; the
/// logarithms of the exact test are computed only when a draw reaches it.
fn transformed_rejection(rng: &mut ChaCha8Rng, n: u64, p: f64) -> u64 {
    let nf = n as f64;
    let spq = (nf * p * (1.0 - p)).sqrt();
    let b = 1.15 + 2.53 * spq;
    let a = -0.0873 + 0.0248 * b + 0.01 * p;
    let c = nf * p + 0.5;
    let v_r = 0.92 - 4.2 / b;
    // α, ln(p/q), the mode m and ln m! + ln (n − m)!, once needed.
    let mut exact: Option<(f64, f64, f64, f64)> = None;
    loop {
        let u = unit(rng) - 0.5;
        let v = unit(rng);
        let us = 0.5 - u.abs();
        let x = (2.0 * a / us + b) * u + c;
        if !(x >= 0.0 && x < nf + 1.0) {
            continue;
        }
        let k = x as u64;
        if us >= 0.07 && v <= v_r {
            return k;
        }
        let (alpha, lpq, m, h) = *exact.get_or_insert_with(|| exact_test(n, p, b, spq));
        let v = (v * alpha / (a / (us * us) + b)).ln();
        if v <= h - ln_factorial(k) - ln_factorial(n - k) + (k as f64 - m) * lpq {
            return k;
        }
    }
}

/// The constants of [`transformed_rejection`]'s exact test: α, ln(p/q),
/// the mode m = ⌊(n + 1)·p⌋ and ln m! + ln (n − m)!. Out of line, so that
/// the logarithms are not computed ahead for the draws (most of them) that
/// the squeeze accepts.
#[cold]
#[inline(never)]
fn exact_test(n: u64, p: f64, b: f64, spq: f64) -> (f64, f64, f64, f64) {
    let m = ((n as f64 + 1.0) * p).floor();
    let mu = m as u64;
    (
        (2.83 + 5.1 / b) * spq,
        (p / (1.0 - p)).ln(),
        m,
        ln_factorial(mu) + ln_factorial(n - mu),
    )
}

/// Counts below which [`ln_factorial`] looks its value up: the table
/// (32 KiB) covers the counts a pod's scrape-interval draws reach.
const LN_FACTORIALS_KEPT: usize = 4096;

/// ln k!, looked up below [`LN_FACTORIALS_KEPT`] in a table of
/// [`ln_factorial_series`]'s own values (the same numbers, without the
/// logarithm and divisions at every exact test of a binomial draw).
#[inline]
fn ln_factorial(k: u64) -> f64 {
    static TABLE: OnceLock<Vec<f64>> = OnceLock::new();
    match usize::try_from(k) {
        Ok(i) if i < LN_FACTORIALS_KEPT => TABLE.get_or_init(|| {
            (0..LN_FACTORIALS_KEPT as u64)
                .map(ln_factorial_series)
                .collect()
        })[i],
        _ => ln_factorial_series(k),
    }
}

/// ln k!: exact below 10, else Stirling's series to the 1/(1260 x⁵) term
/// at x = k + 1 (error below 10⁻¹⁰).
fn ln_factorial_series(k: u64) -> f64 {
    const SMALL: [f64; 10] = [
        0.0,
        0.0,
        std::f64::consts::LN_2,
        1.791_759_469_228_055,
        3.178_053_830_347_945_8,
        4.787_491_742_782_046,
        6.579_251_212_010_101,
        8.525_161_361_065_415,
        10.604_602_902_745_25,
        12.801_827_480_081_469,
    ];
    if k < 10 {
        return SMALL[k as usize];
    }
    let x = k as f64 + 1.0;
    let r = 1.0 / (x * x);
    (x - 0.5) * x.ln() - x
        + 0.5 * (2.0 * std::f64::consts::PI).ln()
        + (1.0 / 12.0 - r * (1.0 / 360.0 - r / 1260.0)) / x
}

/// Counts up to which [`Thinning`] tabulates qⁿ.
const POWERS_KEPT: usize = 1 << 14;

/// Bin(n, p) for one probability `p` and many `n`: each request of a batch
/// kept with probability p (a pod's errors). Keeps qⁿ for the counts seen,
/// so that a draw at a small n·p is one uniform and n·p + 1 steps.
#[derive(Debug)]
pub(crate) struct Thinning {
    p: f64,
    /// The counts from which n·p ≥ 10 (or every count, for p > ½): drawn
    /// by [`binomial`].
    large: u64,
    /// qⁿ for n = 0, 1, …: grown as larger counts come, up to
    /// [`POWERS_KEPT`] entries.
    powers: Vec<f64>,
}

impl Thinning {
    pub fn new(p: f64) -> Thinning {
        let large = if p > 0.5 {
            0
        } else {
            (INVERSION_BELOW / p).ceil().min(u64::MAX as f64) as u64
        };
        Thinning {
            p,
            large,
            powers: vec![1.0],
        }
    }

    /// How many of `n` requests are kept.
    pub fn sample(&mut self, rng: &mut ChaCha8Rng, n: u64) -> u64 {
        let p = self.p;
        if n == 0 || p <= 0.0 {
            return 0;
        }
        if n >= self.large {
            return binomial(rng, n, p);
        }
        let first = match self.power(n) {
            Some(f) => f,
            None => (n as f64 * (-p).ln_1p()).exp(),
        };
        inverted(rng, n, p, first)
    }

    /// qⁿ from the table, extending it up to `n` when that stays within
    /// [`POWERS_KEPT`].
    fn power(&mut self, n: u64) -> Option<f64> {
        let n = usize::try_from(n).ok().filter(|&n| n < POWERS_KEPT)?;
        if n >= self.powers.len() {
            // Each entry from the last by one product: the relative error
            // after k products is at most k ulps, below 10⁻¹¹ here.
            let q = 1.0 - self.p;
            let mut last = self.powers[self.powers.len() - 1];
            for _ in self.powers.len()..=n {
                last *= q;
                self.powers.push(last);
            }
        }
        Some(self.powers[n])
    }
}

/// Splits `n` over `probs` (summing to 1) as a multinomial, by conditional
/// binomials (Davis 1993; GSL's `gsl_ran_multinomial`), adding each count
/// to `out`. It stops as soon as nothing is left to split, and a cell of
/// probability 0 costs a comparison.
pub(crate) fn multinomial(rng: &mut ChaCha8Rng, n: u64, probs: &[f64], out: &mut [u64]) {
    let mut left = n;
    let mut mass = 1.0;
    for (i, &p) in probs.iter().enumerate() {
        if left == 0 {
            break;
        }
        let last = i + 1 == probs.len();
        if p <= 0.0 && !last {
            continue;
        }
        if last || mass <= p {
            out[i] += left;
            break;
        }
        let k = binomial(rng, left, p / mass);
        out[i] += k;
        left -= k;
        mass -= p;
    }
}

/// Splits `marked` of the items counted in `cells` over the cells, drawn
/// without replacement (sequential hypergeometrics), into `out`: no cell
/// gets more than its count, and a cell is drawn only while some marked
/// items and other cells remain.
pub(crate) fn hypergeometric_split(
    rng: &mut ChaCha8Rng,
    marked: u64,
    cells: &[u64],
    out: &mut [u64],
) {
    let mut left: u64 = cells.iter().sum();
    let mut marked = marked.min(left);
    for (k, o) in cells.iter().zip(out.iter_mut()) {
        let x = if marked == 0 || *k == 0 {
            0
        } else if *k >= left {
            marked
        } else {
            Hypergeometric::new(left, marked, *k).map_or(0, |d| d.sample(rng))
        };
        *o = x;
        marked -= x;
        left -= k;
    }
}

/// A non-negative count rounded to the nearest whole number (0 for a
/// negative or NaN one). `f64::round` is a library call on the baseline
/// x86-64 target and this is on the per-batch path; the two differ only
/// within an ulp of a half.
#[inline]
pub(crate) fn round_count(x: f64) -> u64 {
    (x + 0.5) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::stream;

    /// Mean and variance of `n` draws.
    fn moments(n: usize, mut draw: impl FnMut() -> u64) -> (f64, f64) {
        let xs: Vec<f64> = (0..n).map(|_| draw() as f64).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        (mean, var)
    }

    /// Pearson's χ² of `n` draws against the probabilities `pmf` (cells
    /// with an expected count below 5 pooled into the last), and its
    /// degrees of freedom.
    fn chi_square(n: usize, pmf: &[f64], mut draw: impl FnMut() -> u64) -> (f64, usize) {
        let mut seen = vec![0u64; pmf.len()];
        for _ in 0..n {
            let k = (draw() as usize).min(pmf.len() - 1);
            seen[k] += 1;
        }
        let (mut stat, mut cells) = (0.0, 0);
        let (mut pooled_seen, mut pooled_want) = (0.0, 0.0);
        for (s, p) in seen.iter().zip(pmf) {
            let want = p * n as f64;
            if want < 5.0 {
                pooled_seen += *s as f64;
                pooled_want += want;
                continue;
            }
            stat += (*s as f64 - want).powi(2) / want;
            cells += 1;
        }
        if pooled_want > 0.0 {
            stat += (pooled_seen - pooled_want).powi(2) / pooled_want.max(1e-9);
            cells += 1;
        }
        (stat, cells - 1)
    }

    /// The χ² quantile at 1 − 10⁻⁴ by Wilson and Hilferty's cube-root
    /// approximation (accurate to a few percent from 5 degrees of freedom).
    fn chi_square_bound(df: usize) -> f64 {
        let k = df as f64;
        let z = 3.719; // the standard normal's 1 − 10⁻⁴ quantile
        k * (1.0 - 2.0 / (9.0 * k) + z * (2.0 / (9.0 * k)).sqrt()).powi(3)
    }

    fn poisson_pmf(mean: f64, last: usize) -> Vec<f64> {
        // In logs: e^{−λ} underflows for large λ.
        let mut pmf = Vec::with_capacity(last + 1);
        let mut ln_p = -mean;
        for k in 0..=last {
            if k > 0 {
                ln_p += (mean / k as f64).ln();
            }
            pmf.push(ln_p.exp());
        }
        let tail = 1.0 - pmf.iter().sum::<f64>();
        pmf[last] += tail.max(0.0);
        pmf
    }

    fn binomial_pmf(n: u64, p: f64) -> Vec<f64> {
        // In logs: qⁿ may underflow.
        let mut ln_choose = 0.0;
        (0..=n)
            .map(|k| {
                if k > 0 {
                    ln_choose += ((n - k + 1) as f64 / k as f64).ln();
                }
                (ln_choose + k as f64 * p.ln() + (n - k) as f64 * (-p).ln_1p()).exp()
            })
            .collect()
    }

    /// The tabulated Poisson draws follow the Poisson law (χ² at
    /// α = 10⁻⁴ over 200 000 draws) at small, moderate and large means, and
    /// across a change of mean: a count of Poisson(λ) has mean and variance
    /// λ (Ross, *Introduction to Probability Models* §2.4).
    #[test]
    fn a_kept_poisson_law_draws_poisson_counts() {
        let mut rng = stream(11, "draw-test", 0);
        let mut law = PoissonLaw::default();
        for mean in [0.7f64, 8.0, 83.3, 420.0, 2500.0] {
            let last = (mean + 8.0 * mean.sqrt() + 10.0) as usize;
            let pmf = poisson_pmf(mean, last);
            let (stat, df) = chi_square(200_000, &pmf, || law.sample(&mut rng, mean));
            assert!(
                stat < chi_square_bound(df),
                "mean {mean}: χ² {stat:.1} on {df} df"
            );
            let (m, v) = moments(100_000, || law.sample(&mut rng, mean));
            let se = (mean / 100_000.0).sqrt();
            assert!((m - mean).abs() < 5.0 * se, "mean {mean}: {m}");
            assert!((v / mean - 1.0).abs() < 0.03, "mean {mean}: variance {v}");
        }
        assert_eq!(law.sample(&mut rng, 0.0), 0);
    }

    /// Binomial draws by inversion, by transformed rejection and by the flip
    /// above ½ follow
    /// the binomial law (χ² at α = 10⁻⁴), and [`Thinning`] with its table
    /// of qⁿ draws the same law as [`binomial`].
    #[test]
    fn binomial_draws_follow_the_binomial_law() {
        let mut rng = stream(12, "draw-test", 0);
        for (n, p) in [
            (40, 0.02),
            (120, 0.0003),
            (300, 0.03),
            (1800, 0.3),
            (90, 0.97),
            (25, 0.4),
            (40, 0.5),
            (2_000_000, 0.001),
        ] {
            let pmf = binomial_pmf(n, p);
            let (stat, df) = chi_square(200_000, &pmf, || binomial(&mut rng, n, p));
            assert!(
                stat < chi_square_bound(df.max(1)),
                "Bin({n}, {p}): χ² {stat:.1} on {df} df"
            );
        }
        // From the table of qⁿ, past it, and by transformed rejection
        // (n·p ≥ 10).
        let mut thin = Thinning::new(0.0004);
        for n in [1, 80, 700, 3000, 20_000, 60_000] {
            let pmf = binomial_pmf(n, 0.0004);
            let (stat, df) = chi_square(100_000, &pmf, || thin.sample(&mut rng, n));
            assert!(
                stat < chi_square_bound(df.max(1)),
                "thinning {n}: χ² {stat:.1} on {df} df"
            );
        }
        assert_eq!(binomial(&mut rng, 0, 0.3), 0);
        assert_eq!(binomial(&mut rng, 7, 1.0), 7);
        assert_eq!(Thinning::new(0.0).sample(&mut rng, 50), 0);
    }

    /// A multinomial's cells have the binomial means n·pᵢ, add up to n, and
    /// a cell of probability 0 gets nothing.
    #[test]
    fn multinomial_cells_add_up_and_have_binomial_means() {
        let mut rng = stream(13, "draw-test", 0);
        let probs = [0.5, 0.0, 0.3, 0.15, 0.05];
        let mut total = [0u64; 5];
        let rounds = 20_000;
        for _ in 0..rounds {
            let mut out = [0u64; 5];
            multinomial(&mut rng, 1000, &probs, &mut out);
            assert_eq!(out.iter().sum::<u64>(), 1000);
            assert_eq!(out[1], 0);
            for (t, o) in total.iter_mut().zip(out) {
                *t += o;
            }
        }
        for (t, p) in total.iter().zip(probs) {
            let n = 1000.0 * rounds as f64;
            let se = (n * p * (1.0 - p)).sqrt().max(1.0);
            assert!((*t as f64 - n * p).abs() < 5.0 * se, "{t} for p = {p}");
        }
    }

    /// qⁿ by products agrees with exp(n ln(1 − p)) to the rounding of q.
    #[test]
    fn the_chance_of_no_success_is_q_to_the_n_by_products_or_logarithms() {
        for p in [1e-9f64, 1e-4, 0.003, 0.1, 0.37, 0.5] {
            for n in [0u64, 1, 2, 3, 17, 255, 1000, 1024] {
                let exact = (n as f64 * (-p).ln_1p()).exp();
                let got = none_of(n, p);
                assert!(
                    (got - exact).abs() <= 1e-12 * exact.max(f64::MIN_POSITIVE),
                    "p {p} n {n}: {got} against {exact}"
                );
            }
        }
        assert_eq!(none_of(3, 0.5), 0.125);
        assert_eq!(none_of(0, 0.5), 1.0);
    }

    /// ln k! against the sum of logarithms, across the switch from the
    /// table to Stirling's series.
    #[test]
    fn ln_factorial_matches_the_sum_of_logarithms() {
        let mut sum = 0.0;
        for k in 0..6000u64 {
            if k > 0 {
                sum += (k as f64).ln();
            }
            let got = ln_factorial(k);
            assert!(
                (got - sum).abs() <= 1e-9 * sum.max(1.0),
                "{k}: {got} vs {sum}"
            );
        }
    }

    /// The looked-up values are the series' own, on both sides of the
    /// table's end, so draws do not change with the lookup.
    #[test]
    fn ln_factorial_looks_up_exactly_what_the_series_gives() {
        let last = LN_FACTORIALS_KEPT as u64;
        for k in [0, 9, 10, 11, 600, last - 2, last - 1, last, last + 1] {
            assert_eq!(
                ln_factorial(k).to_bits(),
                ln_factorial_series(k).to_bits(),
                "{k}"
            );
        }
    }

    #[test]
    fn counts_round_to_the_nearest_whole_number() {
        assert_eq!(round_count(2.49), 2);
        assert_eq!(round_count(2.5), 3);
        assert_eq!(round_count(0.0), 0);
        assert_eq!(round_count(-3.0), 0);
        assert_eq!(round_count(f64::NAN), 0);
    }
}
