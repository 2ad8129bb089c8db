//! SplitMix64, the one seeded random source behind everything weft makes reproducible:
//! `rand(seed)` in patches, LSTM initialisation, batches, dropout and sampling, and the
//! synthetic listening logs. Tiny, fast, and identical on every platform.

/// SplitMix64 (Steele, Lea & Flood). The state is public so callers can seed it directly.
#[derive(Clone, Debug)]
pub struct SplitMix(pub u64);

impl SplitMix {
    /// The golden-ratio increment, also used to scramble seeds.
    pub const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(Self::GAMMA);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}
