//! Counter-based randomness: every value is a pure function of
//! (seed, ds, dataset, column, row, draw). No shared stream, so the output does not depend
//! on thread count or chunking, and adding a column changes no existing value.

use chrono::{Datelike, NaiveDate};

use crate::datasets::Dataset;

/// SplitMix64's finaliser: a bijective 64-bit mixer with good avalanche.
#[inline(always)]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

/// The random source of one column of one dataset on one day.
#[derive(Clone, Copy, Debug)]
pub struct ColumnRng {
    key: u64,
}

impl ColumnRng {
    pub fn new(seed: u64, ds: NaiveDate, dataset: Dataset, column: &str) -> Self {
        let mut key = mix64(seed ^ GOLDEN);
        key = mix64(key ^ (ds.num_days_from_ce() as u64));
        key = mix64(key ^ fnv1a(dataset.name().as_bytes()));
        key = mix64(key ^ fnv1a(column.as_bytes()));
        ColumnRng { key }
    }

    /// 64 random bits for `row`; `draw` gives further independent values for the same row.
    #[inline(always)]
    pub fn bits(&self, row: u64, draw: u64) -> u64 {
        mix64(self.key ^ mix64(row.wrapping_mul(GOLDEN) ^ draw.wrapping_mul(0xd6e8_feb8_6659_fd93)))
    }

    /// Uniform in [0, 1) with 53 bits of precision.
    #[inline(always)]
    pub fn unit(&self, row: u64, draw: u64) -> f64 {
        (self.bits(row, draw) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in [0, n) (Lemire's multiply-shift; n > 0).
    #[inline(always)]
    pub fn below(&self, row: u64, draw: u64, n: usize) -> usize {
        ((self.bits(row, draw) as u128 * n as u128) >> 64) as usize
    }

    /// An index into a universe of `n` items with the 70/20/10 skew: the first 20% get
    /// ~70% of the draws, the next 30% ~20%, the remaining 50% ~10%.
    #[inline]
    pub fn skewed(&self, row: u64, n: usize) -> usize {
        let (hot, warm) = skew_bounds(n);
        let u = self.unit(row, 0);
        let bucket = if u < 0.7 { 0..hot } else if u < 0.9 { hot..warm } else { warm..n };
        let span = bucket.end - bucket.start;
        if span == 0 {
            return self.below(row, 1, n);
        }
        bucket.start + self.below(row, 1, span)
    }

    /// Picks from `(weight, item)` pairs; weights need not sum to one.
    #[inline]
    pub fn weighted<'a, T>(&self, row: u64, draw: u64, choices: &'a [(f64, T)]) -> &'a T {
        let total: f64 = choices.iter().map(|c| c.0).sum();
        let mut u = self.unit(row, draw) * total;
        for (w, item) in choices {
            if u < *w {
                return item;
            }
            u -= w;
        }
        &choices[choices.len() - 1].1
    }

    /// A random version-4 UUID in canonical 8-4-4-4-12 form.
    #[inline]
    pub fn uuid(&self, row: u64) -> [u8; 36] {
        let hi = self.bits(row, 0);
        let lo = self.bits(row, 1);
        let mut raw = [0u8; 16];
        raw[..8].copy_from_slice(&hi.to_be_bytes());
        raw[8..].copy_from_slice(&lo.to_be_bytes());
        raw[6] = (raw[6] & 0x0f) | 0x40;
        raw[8] = (raw[8] & 0x3f) | 0x80;
        format_uuid(&raw)
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn format_uuid(raw: &[u8; 16]) -> [u8; 36] {
    let mut out = [b'-'; 36];
    let mut pos = 0;
    for (i, byte) in raw.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            pos += 1;
        }
        out[pos] = HEX[(byte >> 4) as usize];
        out[pos + 1] = HEX[(byte & 0x0f) as usize];
        pos += 2;
    }
    out
}

/// Ends of the hot (first 20%) and warm (next 30%) buckets of a universe of `n` items.
pub fn skew_bounds(n: usize) -> (usize, usize) {
    let hot = ((n as f64) * 0.2).round().max(1.0) as usize;
    let warm = ((n as f64) * 0.5).round().max((hot + 1) as f64) as usize;
    (hot.min(n), warm.min(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng(column: &str) -> ColumnRng {
        ColumnRng::new(42, NaiveDate::from_ymd_opt(2025, 5, 25).unwrap(), Dataset::Contacts, column)
    }

    #[test]
    fn values_depend_on_every_part_of_the_key() {
        let base = rng("email").bits(7, 0);
        assert_eq!(base, rng("email").bits(7, 0));
        assert_ne!(base, rng("company").bits(7, 0));
        assert_ne!(base, rng("email").bits(8, 0));
        assert_ne!(base, rng("email").bits(7, 1));
        let other_day =
            ColumnRng::new(42, NaiveDate::from_ymd_opt(2025, 5, 26).unwrap(), Dataset::Contacts, "email");
        assert_ne!(base, other_day.bits(7, 0));
    }

    #[test]
    fn uuids_are_canonical_v4() {
        let u = rng("contact_id").uuid(3);
        let s = std::str::from_utf8(&u).unwrap();
        assert_eq!(s.len(), 36);
        assert_eq!(&s[14..15], "4");
        assert!(matches!(&s[19..20], "8" | "9" | "a" | "b"), "{s}");
        assert_eq!(s.matches('-').count(), 4);
    }

    #[test]
    fn skew_is_70_20_10() {
        let r = rng("campaign_id");
        let n = 20;
        let (hot, warm) = skew_bounds(n);
        assert_eq!((hot, warm), (4, 10));
        let mut counts = [0usize; 3];
        let draws = 200_000;
        for row in 0..draws {
            let i = r.skewed(row, n);
            counts[if i < hot { 0 } else if i < warm { 1 } else { 2 }] += 1;
        }
        let share = |c: usize| c as f64 / draws as f64;
        assert!((share(counts[0]) - 0.7).abs() < 0.01, "{counts:?}");
        assert!((share(counts[1]) - 0.2).abs() < 0.01, "{counts:?}");
        assert!((share(counts[2]) - 0.1).abs() < 0.01, "{counts:?}");
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let r = rng("x");
        let mut seen = [false; 7];
        for row in 0..1000 {
            let v = r.below(row, 0, 7);
            seen[v] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }
}
