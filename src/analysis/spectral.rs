//! Per-frame spectral maths: the window, the filterbanks built once per configuration (mel,
//! chroma, log-frequency display bands) and the scalar features computed from one magnitude
//! spectrum. Everything here is a pure function of its inputs; [`super::Analyzer`] owns the
//! buffers and calls these once per frame.
//!
//! Formulas follow librosa 0.11 (see `docs/analysis.md` for the function each one matches).

/// librosa's `amin` for spectral flatness (floor on power before the logarithm).
pub const FLATNESS_AMIN: f64 = 1e-10;
/// librosa's default roll-off percentage.
pub const ROLL_PERCENT: f64 = 0.85;
/// Number of display bands in [`super::Features::bands`].
pub const N_BANDS: usize = 48;
/// Number of mel bands used for the onset envelope (librosa's `n_mels` default).
pub const N_MELS: usize = 128;
/// Floor for the display bands, in dB relative to a full-scale sine.
pub const BAND_FLOOR_DB: f32 = -120.0;

/// `Σ f(a[i], b[i])` with sixteen independent `f32` partial sums (two 8-wide vectors), so
/// the loop vectorises instead of waiting on one running sum; the partial sums are added up
/// in `f64`. The additions happen in a different order than a left-to-right sum, which
/// changes the result by rounding only (about 1e-6 relative for a spectrum's 1025 bins).
#[inline(always)]
pub fn sum_zip(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f64 {
    const L: usize = 16;
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; L];
    let (ca, cb) = (a.chunks_exact(L), b.chunks_exact(L));
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| f(*x, *y) as f64)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..L {
            acc[i] += f(x[i], y[i]);
        }
    }
    acc.iter().map(|a| *a as f64).sum::<f64>() + tail
}

/// `Σ x[i]` (see [`sum_zip`]).
#[inline(always)]
pub fn sum(x: &[f32]) -> f64 {
    sum_zip(x, x, |a, _| a)
}

/// `Σ a[i]·b[i]` (see [`sum_zip`]).
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f64 {
    sum_zip(a, b, |x, y| x * y)
}

/// Natural logarithm of a positive `f32`, without branches so that loops over it vectorise
/// (glibc's `logf`/`log1pf` are one call per value). `x = 2^e · m` with `m` in `[√½, √2)`,
/// `ln x = e · ln 2 + ln m`, and `ln m` from the minimax polynomial of Cephes' `logf` in
/// `m − 1` (within 2 ulp of `f32::ln`, tested). Zero, negative and subnormal inputs are
/// outside its domain (callers pass values ≥ a positive normal floor); infinities and NaN
/// pass through.
#[inline(always)]
pub fn fast_ln(x: f32) -> f32 {
    const SQRT_HALF_BITS: u32 = 0x3f35_04f3;
    let bits = x.to_bits();
    // Exponent such that x / 2^e lands in [√½, √2): an arithmetic shift of the offset bits.
    let e = (bits.wrapping_sub(SQRT_HALF_BITS) as i32) >> 23;
    let m = f32::from_bits(bits.wrapping_sub((e as u32) << 23));
    let f = m - 1.0;
    let z = f * f;
    let mut y = 7.037_683_6e-2;
    y = y * f - 1.151_461e-1;
    y = y * f + 1.167_699_9e-1;
    y = y * f - 1.242_014_1e-1;
    y = y * f + 1.424_932_3e-1;
    y = y * f - 1.666_805_8e-1;
    y = y * f + 2.000_071_4e-1;
    y = y * f - 2.499_999_4e-1;
    y = y * f + 3.333_333e-1;
    let ef = e as f32;
    // ln 2 split in two so that e · ln 2 keeps its precision (Cephes' C1 + C2).
    let r = (y * f * z - 2.121_944_4e-4 * ef - 0.5 * z + f) + 0.693_359_4 * ef;
    if x.is_finite() {
        r
    } else {
        x
    }
}

/// Periodic Hann window of length `n` (`scipy.signal.get_window("hann", n, fftbins=True)`).
pub fn hann(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos())
        .collect()
}

/// Centre frequency of each rFFT bin: `librosa.fft_frequencies(sr, n_fft)`.
pub fn fft_frequencies(sr: f64, n_fft: usize) -> Vec<f64> {
    (0..=n_fft / 2)
        .map(|k| k as f64 * sr / n_fft as f64)
        .collect()
}

/// Spectral centroid, bandwidth (p = 2) and the L1 norm of `mag`.
///
/// Matches `librosa.feature.spectral_centroid` / `spectral_bandwidth` on a magnitude
/// spectrogram: the column is L1-normalised unless its sum is below the smallest positive
/// float, in which case it is left as is (so a silent frame gives 0 and 0).
#[inline(always)]
pub fn centroid_bandwidth(mag: &[f32], freqs: &[f32]) -> (f64, f64) {
    let total = sum(mag);
    let norm = if total < f32::MIN_POSITIVE as f64 {
        1.0
    } else {
        total
    };
    let centroid = dot(mag, freqs) / norm;
    let c = centroid as f32;
    let var = sum_zip(mag, freqs, |m, f| m * (f - c) * (f - c)) / norm;
    (centroid, var.max(0.0).sqrt())
}

/// Spectral roll-off: the lowest bin frequency at which the cumulative magnitude reaches
/// `roll_percent` of the total (`librosa.feature.spectral_rolloff`).
///
/// The cumulative sum is walked in blocks (a vectorised sum per block) and bin by bin only
/// inside the block where it crosses the threshold, instead of one dependent `f64` addition
/// per bin across the whole spectrum.
#[inline(always)]
pub fn rolloff(mag: &[f32], freqs: &[f32], roll_percent: f64) -> f64 {
    // At most MAX_BLOCKS sums, kept on the stack: 64-bin blocks for every spectrum up to
    // fft 8192 (4097 bins), longer blocks beyond.
    const MAX_BLOCKS: usize = 65;
    let block = mag.len().div_ceil(MAX_BLOCKS).max(64);
    let mut sums = [0.0f64; MAX_BLOCKS];
    for (s, m) in sums.iter_mut().zip(mag.chunks(block)) {
        *s = sum(m);
    }
    let threshold = roll_percent * sums.iter().sum::<f64>();
    let mut acc = 0.0f64;
    for ((m, f), s) in mag.chunks(block).zip(freqs.chunks(block)).zip(sums) {
        if acc + s < threshold {
            acc += s;
            continue;
        }
        // The crossing is in this block (or, through rounding, just after it): walk it.
        for (k, mk) in m.iter().enumerate() {
            acc += *mk as f64;
            if acc >= threshold {
                return f[k] as f64;
            }
        }
    }
    // Only reachable through rounding when the threshold equals the total.
    freqs.last().map_or(0.0, |f| *f as f64)
}

/// Spectral flatness on the power spectrum `mag²` floored at `amin`
/// (`librosa.feature.spectral_flatness`, power = 2): geometric mean over arithmetic mean.
///
/// The sum of logarithms is taken as a sum of binary exponents plus the logarithm of
/// products of mantissas: eight lanes multiply the mantissas (each in `[1, 2)`) of their
/// bins and move the product's exponent into their exponent sum every sixteen bins (the
/// product then stays below 2^16), so a whole spectrum costs eight `ln` calls instead of one
/// per bin; `amin` keeps every value a normal float, so this is exact up to rounding.
#[inline(always)]
pub fn flatness(mag: &[f32], amin: f64) -> f64 {
    const L: usize = 8;
    const RUN: usize = 16 * L;
    let amin = amin as f32;
    debug_assert!(amin >= f32::MIN_POSITIVE);
    let n = mag.len() as f64;
    let total = sum_zip(mag, mag, |m, _| (m * m).max(amin));
    let exponent = |bits: u32| ((bits >> 23) & 0xff) as i32 - 127;
    let mantissa = |bits: u32| f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    let mut exps = [0i32; L];
    let mut prods = [1.0f32; L];
    let runs = mag.chunks_exact(RUN);
    let rest = runs.remainder();
    for run in runs {
        for chunk in run.chunks_exact(L) {
            for l in 0..L {
                let bits = (chunk[l] * chunk[l]).max(amin).to_bits();
                exps[l] += exponent(bits);
                prods[l] *= mantissa(bits);
            }
        }
        for l in 0..L {
            let bits = prods[l].to_bits();
            exps[l] += exponent(bits);
            prods[l] = mantissa(bits);
        }
    }
    let mut log_sum = 0.0f64;
    for m in rest {
        log_sum += ((m * m).max(amin) as f64).ln();
    }
    for l in 0..L {
        log_sum += exps[l] as f64 * std::f64::consts::LN_2 + (prods[l] as f64).ln();
    }
    (log_sum / n).exp() / (total / n)
}

/// Positive spectral difference averaged over bins: `mean(max(0, cur - prev))`, the
/// `librosa.onset.onset_strength(S=|D|, lag=1, max_size=1, center=False)` of one frame.
#[inline(always)]
pub fn positive_flux(cur: &[f32], prev: &[f32]) -> f64 {
    sum_zip(cur, prev, |c, p| (c - p).max(0.0)) / cur.len() as f64
}

/// Lanes of the filterbank kernels: one 8-wide vector of `f32`.
const LANES: usize = 8;

/// Sum of the lanes of an 8-wide accumulator, added pairwise in `f32`.
#[inline(always)]
fn lane_total(acc: [f32; LANES]) -> f32 {
    let q = [
        acc[0] + acc[4],
        acc[1] + acc[5],
        acc[2] + acc[6],
        acc[3] + acc[7],
    ];
    (q[0] + q[2]) + (q[1] + q[3])
}

/// A sparse filterbank: one row of weights per output band over a contiguous bin range.
///
/// Each row's span is padded with zero weights to a whole number of 8-bin vectors (moved
/// left where it would run past the last bin), so even the two-bin rows of the low mel
/// bands are one vector multiply instead of a scalar loop.
#[derive(Debug, Clone)]
pub struct Filterbank {
    rows: Vec<(usize, Vec<f32>)>,
}

impl Filterbank {
    /// Builds the bank from each row's first bin and weights (over a spectrum of `bins`
    /// bins): zero weights at either end are dropped, and the span padded as described
    /// above.
    fn from_spans(spans: Vec<(usize, Vec<f64>)>, bins: usize) -> Self {
        let rows = spans
            .into_iter()
            .map(|(at, row)| {
                let first = row.iter().position(|w| *w != 0.0).unwrap_or(0);
                let last = row.iter().rposition(|w| *w != 0.0).map_or(first, |l| l + 1);
                let (first, last) = (at + first, at + last);
                let len = (last - first).div_ceil(LANES).max(1) * LANES;
                // Pad at the end if that stays inside the spectrum, else start earlier.
                let start = first.min(bins.saturating_sub(len));
                let mut w = vec![0.0f32; len];
                for (k, x) in w.iter_mut().enumerate() {
                    if let Some(v) = (start + k).checked_sub(at).and_then(|i| row.get(i)) {
                        *x = *v as f32;
                    }
                }
                (start, w)
            })
            .collect();
        Filterbank { rows }
    }

    /// Number of output bands.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when the bank has no bands.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// `out[b] = Σ_k w[b][k] · x[k]`. `x` must hold every bin (at least 8).
    #[inline(always)]
    pub fn apply(&self, x: &[f32], out: &mut [f32]) {
        for ((start, w), o) in self.rows.iter().zip(out.iter_mut()) {
            let x = &x[*start..*start + w.len()];
            let mut acc = [0.0f32; LANES];
            for (wc, xc) in w.chunks_exact(LANES).zip(x.chunks_exact(LANES)) {
                for l in 0..LANES {
                    acc[l] += wc[l] * xc[l];
                }
            }
            *o = lane_total(acc);
        }
    }
}

/// A dense filterbank of `R` rows (chroma: every bin feeds every pitch class), stored one
/// 8-bin block at a time with the weights of all rows side by side, so each block of the
/// input is loaded once for all rows and every row keeps its own vector accumulator.
#[derive(Debug, Clone)]
pub struct DenseBank<const R: usize> {
    blocks: Vec<[[f32; LANES]; R]>,
}

impl<const R: usize> DenseBank<R> {
    fn from_dense(dense: &[Vec<f64>]) -> Self {
        assert_eq!(dense.len(), R, "one row per output");
        let bins = dense.first().map_or(0, |r| r.len());
        let blocks = (0..bins.div_ceil(LANES))
            .map(|b| {
                let mut block = [[0.0f32; LANES]; R];
                for (r, row) in dense.iter().enumerate() {
                    for (l, w) in block[r].iter_mut().enumerate() {
                        *w = row.get(b * LANES + l).map_or(0.0, |w| *w as f32);
                    }
                }
                block
            })
            .collect();
        DenseBank { blocks }
    }

    /// `out[r] = Σ_k w[r][k] · x[k]` over the bins of `x`.
    #[inline(always)]
    pub fn apply(&self, x: &[f32], out: &mut [f32; R]) {
        let mut acc = [[0.0f32; LANES]; R];
        let step = |acc: &mut [[f32; LANES]; R], w: &[[f32; LANES]; R], xb: &[f32; LANES]| {
            for r in 0..R {
                for l in 0..LANES {
                    acc[r][l] += w[r][l] * xb[l];
                }
            }
        };
        let chunks = x.chunks_exact(LANES);
        let tail = chunks.remainder();
        for (xc, w) in chunks.zip(&self.blocks) {
            step(&mut acc, w, xc.try_into().expect("8 bins"));
        }
        if !tail.is_empty() {
            if let Some(w) = self.blocks.get(x.len() / LANES) {
                let mut xb = [0.0f32; LANES];
                xb[..tail.len()].copy_from_slice(tail);
                step(&mut acc, w, &xb);
            }
        }
        for (o, a) in out.iter_mut().zip(acc) {
            *o = lane_total(a);
        }
    }
}

/// Slaney mel scale (`librosa.hz_to_mel(htk=False)`).
pub fn hz_to_mel(hz: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    if hz >= min_log_hz {
        min_log_mel + (hz / min_log_hz).ln() / logstep
    } else {
        hz / f_sp
    }
}

/// Inverse of [`hz_to_mel`] (`librosa.mel_to_hz(htk=False)`).
pub fn mel_to_hz(mel: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    if mel >= min_log_mel {
        min_log_hz * (logstep * (mel - min_log_mel)).exp()
    } else {
        f_sp * mel
    }
}

/// Mel filterbank as `librosa.filters.mel(sr, n_fft, n_mels, fmin=0, fmax=sr/2,
/// htk=False, norm="slaney")`.
pub fn mel_filterbank(sr: f64, n_fft: usize, n_mels: usize) -> Filterbank {
    let fftfreqs = fft_frequencies(sr, n_fft);
    let (mel_lo, mel_hi) = (hz_to_mel(0.0), hz_to_mel(sr / 2.0));
    let mel_f: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz(mel_lo + (mel_hi - mel_lo) * i as f64 / (n_mels + 1) as f64))
        .collect();
    let spans = (0..n_mels)
        .map(|i| {
            let (lo, mid, hi) = (mel_f[i], mel_f[i + 1], mel_f[i + 2]);
            let enorm = 2.0 / (hi - lo);
            // The triangle is zero outside (lo, hi): evaluate it only on the bins around it.
            let df = sr / n_fft as f64;
            let k0 = ((lo / df).floor() as usize).min(fftfreqs.len());
            let k1 = ((hi / df).ceil() as usize + 1).min(fftfreqs.len());
            let row = fftfreqs[k0..k1]
                .iter()
                .map(|f| {
                    let lower = (f - lo) / (mid - lo);
                    let upper = (hi - f) / (hi - mid);
                    lower.min(upper).max(0.0) * enorm
                })
                .collect();
            (k0, row)
        })
        .collect();
    Filterbank::from_spans(spans, fftfreqs.len())
}

/// Chroma filterbank as `librosa.filters.chroma(sr, n_fft, n_chroma=12, tuning=0,
/// ctroct=5, octwidth=2, norm=2, base_c=True)`: Gaussian bumps on the octave-wrapped
/// log-frequency axis, each column L2-normalised, weighted by a Gaussian over octaves
/// centred at C5 (≈ 523 Hz) two octaves wide. Row 0 is C.
pub fn chroma_filterbank(sr: f64, n_fft: usize) -> DenseBank<12> {
    const N_CHROMA: f64 = 12.0;
    const CTROCT: f64 = 5.0;
    const OCTWIDTH: f64 = 2.0;
    let a440 = 440.0;
    // Only the columns of the rFFT bins 0..=n_fft/2 are kept; each column depends only on
    // its own bin and the next one, so the others are not computed.
    let bins = n_fft / 2 + 1;
    // frequencies = linspace(0, sr, n_fft, endpoint=False)[1:] → octave-bin numbers.
    let mut frqbins: Vec<f64> = (1..=bins)
        .map(|k| {
            let f = k as f64 * sr / n_fft as f64;
            N_CHROMA * (f / (a440 / 16.0)).log2()
        })
        .collect();
    frqbins.insert(0, frqbins[0] - 1.5 * N_CHROMA);
    // (librosa's last column, k = n_fft − 1, has width 1; it is never among the kept bins.)
    let binwidth: Vec<f64> = (0..bins)
        .map(|k| (frqbins[k + 1] - frqbins[k]).max(1.0))
        .collect();
    let half = (N_CHROMA / 2.0).round();
    let mut w = vec![vec![0.0; bins]; 12];
    for k in 0..bins {
        for (c, row) in w.iter_mut().enumerate() {
            // np.remainder as x − 12·floor(x / 12) (`rem_euclid` is a slow `fmod` call, and
            // this ran 12 × 1025 times per analyzer); the two differ by rounding only, and
            // the bump is symmetric in d, so even a remainder of exactly 12 gives the weight
            // of 0.
            let x = frqbins[k] - c as f64 + half + 10.0 * N_CHROMA;
            let d = x - N_CHROMA * (x / N_CHROMA).floor() - half;
            row[k] = (-0.5 * (2.0 * d / binwidth[k]).powi(2)).exp();
        }
        let norm = w.iter().map(|row| row[k] * row[k]).sum::<f64>().sqrt();
        let oct = (-0.5 * ((frqbins[k] / N_CHROMA - CTROCT) / OCTWIDTH).powi(2)).exp();
        for row in w.iter_mut() {
            // librosa.util.normalize leaves columns whose norm is below `tiny` untouched.
            let n = if norm < f64::MIN_POSITIVE { 1.0 } else { norm };
            row[k] = row[k] / n * oct;
        }
    }
    // base_c: roll by -3 so that row 0 is C instead of A.
    w.rotate_left(3);
    DenseBank::from_dense(&w)
}

/// Bin ranges of the display bands: `N_BANDS` log-spaced bands from 30 Hz to
/// min(16 kHz, Nyquist). A band narrower than one bin reads the bin nearest its centre.
pub fn band_ranges(sr: f64, n_fft: usize) -> Vec<(usize, usize)> {
    let lo: f64 = 30.0;
    let hi = (sr / 2.0).min(16_000.0);
    let bin_hz = sr / n_fft as f64;
    let last_bin = n_fft / 2;
    (0..N_BANDS)
        .map(|b| {
            let f0 = lo * (hi / lo).powf(b as f64 / N_BANDS as f64);
            let f1 = lo * (hi / lo).powf((b + 1) as f64 / N_BANDS as f64);
            let k0 = (f0 / bin_hz).ceil() as usize;
            let k1 = ((f1 / bin_hz).ceil() as usize).min(last_bin + 1);
            if k1 > k0 {
                (k0, k1)
            } else {
                let c = ((f0 * f1).sqrt() / bin_hz).round() as usize;
                let c = c.min(last_bin);
                (c, c + 1)
            }
        })
        .collect()
}

/// `20 / ln 10`: decibels per neper of amplitude.
const DB_PER_NEPER: f32 = 8.685_89;

/// Peak magnitude in each display band, in dB relative to a full-scale sine
/// (whose Hann-windowed peak magnitude is `n_fft / 4`), floored at [`BAND_FLOOR_DB`].
#[inline(always)]
pub fn bands_db(mag: &[f32], ranges: &[(usize, usize)], n_fft: usize, out: &mut [f32]) {
    let scale = 4.0 / n_fft as f32;
    for ((k0, k1), o) in ranges.iter().zip(out.iter_mut()) {
        *o = (peak(&mag[*k0..*k1]) * scale).max(1e-12);
    }
    for o in out.iter_mut() {
        *o = (DB_PER_NEPER * fast_ln(*o)).max(BAND_FLOOR_DB);
    }
}

/// Largest value of `x` (0 for an empty or all-negative slice), in eight lanes. A plain
/// comparison instead of `f32::max`, whose NaN handling costs a compare and a blend per
/// value in one dependent chain; NaN values are skipped either way.
#[inline(always)]
fn peak(x: &[f32]) -> f32 {
    let pick = |a: f32, b: f32| if b > a { b } else { a };
    let chunks = x.chunks_exact(LANES);
    let mut p = chunks.remainder().iter().fold(0.0f32, |a, b| pick(a, *b));
    let mut lanes = [0.0f32; LANES];
    for c in chunks {
        for l in 0..LANES {
            lanes[l] = pick(lanes[l], c[l]);
        }
    }
    for l in lanes {
        p = pick(p, l);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lane_sums_agree_with_plain_sums() {
        for n in [0usize, 1, 7, 8, 9, 1025] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| 1.0 + i as f32 * 0.01).collect();
            // Reference in f64; the f32 lanes may differ by rounding only.
            let plain: f64 = a.iter().map(|x| *x as f64).sum();
            assert!((sum(&a) - plain).abs() < 1e-4, "{n}");
            let plain: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
            assert!((dot(&a, &b) - plain).abs() < 1e-4, "{n}");
        }
    }

    #[test]
    fn fast_ln_is_within_two_ulp_of_ln() {
        let mut x = f32::MIN_POSITIVE;
        let mut worst = 0.0f64;
        while x < 1e30 {
            for y in [x, x * 1.000_001, x * 1.37, x * std::f32::consts::SQRT_2] {
                let exact = (y as f64).ln();
                let got = fast_ln(y) as f64;
                // ulp of the result, at least that of values near 1 (ln crosses zero there).
                let ulp = (exact.abs().max(1e-7) as f32).to_bits();
                let ulp = (f32::from_bits(ulp + 1) - f32::from_bits(ulp)) as f64;
                worst = worst.max((got - exact).abs() / ulp);
            }
            x *= 1.013;
        }
        assert!(worst <= 2.0, "worst error {worst} ulp");
        assert_eq!(fast_ln(1.0), 0.0);
        assert!(fast_ln(f32::NAN).is_nan());
        assert_eq!(fast_ln(f32::INFINITY), f32::INFINITY);
    }

    #[test]
    fn rolloff_matches_a_plain_cumulative_sum() {
        let freqs: Vec<f32> = fft_frequencies(44100.0, 2048)
            .into_iter()
            .map(|f| f as f32)
            .collect();
        for seed in 1..50usize {
            let mag: Vec<f32> = (0..freqs.len())
                .map(|i| ((i * seed * 7919 % 1009) as f32 / 1009.0).powi(4))
                .collect();
            let total: f64 = mag.iter().map(|m| *m as f64).sum();
            let mut acc = 0.0;
            let plain = mag
                .iter()
                .zip(&freqs)
                .find(|(m, _)| {
                    acc += **m as f64;
                    acc >= ROLL_PERCENT * total
                })
                .map(|(_, f)| *f as f64)
                .unwrap();
            assert_eq!(rolloff(&mag, &freqs, ROLL_PERCENT), plain, "seed {seed}");
        }
    }

    #[test]
    fn flatness_matches_the_direct_formula() {
        let mag: Vec<f32> = (0..1025)
            .map(|i| ((i * 7919 % 1000) as f32 / 1000.0).powi(3) * 50.0)
            .collect();
        let n = mag.len() as f64;
        // The direct formula on the same f32 powers, in f64.
        let (l, s) = mag.iter().fold((0.0f64, 0.0f64), |(l, s), m| {
            let p = (m * m).max(FLATNESS_AMIN as f32) as f64;
            (l + p.ln(), s + p)
        });
        let direct = (l / n).exp() / (s / n);
        let fast = flatness(&mag, FLATNESS_AMIN);
        assert!(
            (fast - direct).abs() < 1e-6 * direct.max(1e-300),
            "{fast} vs {direct}"
        );
    }

    #[test]
    fn mel_scale_round_trips_and_is_linear_below_1k() {
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
        assert!((hz_to_mel(500.0) - 7.5).abs() < 1e-12);
        for hz in [0.0, 60.0, 999.0, 1000.0, 4000.0, 11025.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-9 * hz.max(1.0));
        }
    }

    #[test]
    fn flatness_of_flat_spectrum_is_one_and_of_a_spike_is_tiny() {
        assert!((flatness(&[0.3; 64], FLATNESS_AMIN) - 1.0).abs() < 1e-6);
        let mut spike = vec![0.0; 64];
        spike[10] = 1.0;
        assert!(flatness(&spike, FLATNESS_AMIN) < 1e-6);
    }

    #[test]
    fn centroid_of_single_bin_is_its_frequency_with_zero_bandwidth() {
        let freqs: Vec<f32> = fft_frequencies(1000.0, 16)
            .into_iter()
            .map(|f| f as f32)
            .collect();
        let mut mag = vec![0.0f32; freqs.len()];
        mag[3] = 2.0;
        let (c, bw) = centroid_bandwidth(&mag, &freqs);
        assert!(
            (c - freqs[3] as f64).abs() < 1e-4 && bw.abs() < 1e-3,
            "{c} {bw}"
        );
        assert_eq!(rolloff(&mag, &freqs, ROLL_PERCENT), freqs[3] as f64);
        assert_eq!(centroid_bandwidth(&[0.0; 9], &freqs), (0.0, 0.0));
    }

    #[test]
    fn chroma_filter_peaks_at_pitch_class_of_the_bin() {
        let sr = 22050.0;
        let n_fft = 4096;
        let bank = chroma_filterbank(sr, n_fft);
        let mut out = [0.0; 12];
        // A bin near 440 Hz (A4): pitch class 9.
        let k = (440.0 / (sr / n_fft as f64)).round() as usize;
        let mut x = vec![0.0; n_fft / 2 + 1];
        x[k] = 1.0;
        bank.apply(&x, &mut out);
        let best = (0..12).max_by(|a, b| out[*a].total_cmp(&out[*b])).unwrap();
        assert_eq!(best, 9);
    }

    #[test]
    fn bands_cover_increasing_bins() {
        let r = band_ranges(44100.0, 2048);
        assert_eq!(r.len(), N_BANDS);
        assert!(r.windows(2).all(|w| w[1].0 >= w[0].0));
        assert!(r.iter().all(|(a, b)| b > a && *b <= 1025));
    }
}
