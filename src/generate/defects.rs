//! Fault injection: which rows of a day get which defect. Every decision is a pure function
//! of (seed, ds, dataset, kind, row), like the data itself, so other datasets can ask
//! "is contact row 17 clean?" without reading the contacts file.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::random::ColumnRng;
use crate::datasets::{ArgumentError, Dataset};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefectKind {
    NullKey,
    DuplicateKey,
    BadEmail,
    StaleDate,
    OrphanForeignKey,
    OutOfRange,
    InconsistentBounce,
}

impl DefectKind {
    pub const ALL: [DefectKind; 7] = [
        DefectKind::NullKey,
        DefectKind::DuplicateKey,
        DefectKind::BadEmail,
        DefectKind::StaleDate,
        DefectKind::OrphanForeignKey,
        DefectKind::OutOfRange,
        DefectKind::InconsistentBounce,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DefectKind::NullKey => "null_key",
            DefectKind::DuplicateKey => "duplicate_key",
            DefectKind::BadEmail => "bad_email",
            DefectKind::StaleDate => "stale_date",
            DefectKind::OrphanForeignKey => "orphan_foreign_key",
            DefectKind::OutOfRange => "out_of_range",
            DefectKind::InconsistentBounce => "inconsistent_bounce",
        }
    }

    pub fn parse(name: &str) -> Result<Self, ArgumentError> {
        Self::ALL.into_iter().find(|k| k.name() == name).ok_or_else(|| {
            let known: Vec<_> = Self::ALL.iter().map(|k| k.name()).collect();
            ArgumentError::Other(format!(
                "unknown defect kind {name:?}; expected one of: {}",
                known.join(", ")
            ))
        })
    }

    /// Defects are injected into the row-level datasets only; dimensions stay clean.
    pub fn applies_to(self, dataset: Dataset) -> bool {
        use Dataset::*;
        use DefectKind::*;
        match self {
            NullKey | DuplicateKey | StaleDate => {
                matches!(dataset, Contacts | FormFills | WebsiteActivity)
            }
            BadEmail => dataset == Contacts,
            OrphanForeignKey | OutOfRange => matches!(dataset, FormFills | WebsiteActivity),
            InconsistentBounce => dataset == WebsiteActivity,
        }
    }
}

/// Defect rates per kind for one day (a fraction of rows in [0, 1]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DefectRates(pub BTreeMap<DefectKind, f64>);

impl DefectRates {
    pub fn parse<'a>(pairs: impl IntoIterator<Item = (&'a str, f64)>) -> Result<Self, ArgumentError> {
        let mut rates = BTreeMap::new();
        for (name, rate) in pairs {
            let kind = DefectKind::parse(name)?;
            if !(0.0..=1.0).contains(&rate) {
                return Err(ArgumentError::Other(format!(
                    "defect rate for {name} must be in [0, 1], got {rate}"
                )));
            }
            if rate > 0.0 {
                rates.insert(kind, rate);
            }
        }
        Ok(DefectRates(rates))
    }

    pub fn rate(&self, kind: DefectKind) -> f64 {
        self.0.get(&kind).copied().unwrap_or(0.0)
    }

    pub fn any_for(&self, dataset: Dataset) -> bool {
        self.0.keys().any(|k| k.applies_to(dataset))
    }
}

/// One injected defect, as written to the truth manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DefectRecord {
    /// 0-based data row (not counting a CSV header).
    pub row: u64,
    pub kind: DefectKind,
    pub column: &'static str,
    /// For `duplicate_key`: the row whose key this row copies (that row fails the
    /// uniqueness check too).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner_row: Option<u64>,
}

/// The defect decisions for one dataset on one day.
#[derive(Clone, Debug)]
pub struct DatasetDefects {
    rows: usize,
    /// (rate, rng) per kind, only for kinds that apply with rate > 0.
    kinds: [(f64, Option<ColumnRng>); 7],
}

impl DatasetDefects {
    pub fn new(seed: u64, ds: NaiveDate, dataset: Dataset, rows: usize, rates: &DefectRates) -> Self {
        let kinds = DefectKind::ALL.map(|kind| {
            let rate = if kind.applies_to(dataset) { rates.rate(kind) } else { 0.0 };
            let rng = (rate > 0.0)
                .then(|| ColumnRng::new(seed, ds, dataset, &format!("defect:{}", kind.name())));
            (rate, rng)
        });
        DatasetDefects { rows, kinds }
    }

    pub fn is_empty(&self) -> bool {
        self.kinds.iter().all(|(_, rng)| rng.is_none())
    }

    /// Was `kind` drawn for `row` (before interactions between kinds)?
    #[inline]
    fn drawn(&self, kind: DefectKind, row: usize) -> bool {
        match &self.kinds[kind as usize] {
            (rate, Some(rng)) => rng.unit(row as u64, 0) < *rate,
            _ => false,
        }
    }

    /// A random value for a defect's details (which column, which variant).
    #[inline]
    pub fn detail(&self, kind: DefectKind, row: usize, n: usize) -> usize {
        match &self.kinds[kind as usize] {
            (_, Some(rng)) => rng.below(row as u64, 1, n),
            _ => 0,
        }
    }

    #[inline]
    pub fn has(&self, kind: DefectKind, row: usize) -> bool {
        match kind {
            DefectKind::DuplicateKey => self.is_duplicate_key(row),
            _ => self.drawn(kind, row),
        }
    }

    #[inline]
    pub fn is_null_key(&self, row: usize) -> bool {
        self.drawn(DefectKind::NullKey, row)
    }

    /// Row `row` copies the key of row `row - 1`. Not applied to the first row, to a row
    /// whose key is null, or when the previous row's key is null.
    #[inline]
    pub fn is_duplicate_key(&self, row: usize) -> bool {
        row > 0
            && row < self.rows
            && self.drawn(DefectKind::DuplicateKey, row)
            && !self.is_null_key(row)
            && !self.is_null_key(row - 1)
    }

    /// The row whose generated key `row` carries, or None for a null key.
    #[inline]
    pub fn key_source_row(&self, mut row: usize) -> Option<usize> {
        if self.is_null_key(row) {
            return None;
        }
        while self.is_duplicate_key(row) {
            row -= 1;
        }
        Some(row)
    }

    /// No defect at all, and no other row copies this row's key: safe to reference.
    pub fn is_clean(&self, row: usize) -> bool {
        if self.is_empty() {
            return true;
        }
        DefectKind::ALL.iter().all(|k| !self.has(*k, row)) && !self.is_duplicate_key(row + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 5, 25).unwrap()
    }

    #[test]
    fn rates_are_parsed_and_checked() {
        let r = DefectRates::parse([("null_key", 0.1), ("bad_email", 0.0)]).unwrap();
        assert_eq!(r.rate(DefectKind::NullKey), 0.1);
        assert!(!r.0.contains_key(&DefectKind::BadEmail));
        assert!(DefectRates::parse([("typo", 0.1)]).unwrap_err().to_string().contains("typo"));
        assert!(DefectRates::parse([("null_key", 1.5)]).is_err());
    }

    #[test]
    fn duplicate_keys_point_at_a_real_previous_key() {
        let rates = DefectRates::parse([("null_key", 0.2), ("duplicate_key", 0.3)]).unwrap();
        let d = DatasetDefects::new(1, day(), Dataset::Contacts, 10_000, &rates);
        let mut dups = 0;
        for row in 0..10_000 {
            if d.is_duplicate_key(row) {
                dups += 1;
                let src = d.key_source_row(row).unwrap();
                assert!(src < row);
                assert!(!d.is_null_key(src) && !d.is_duplicate_key(src));
                assert!(!d.is_clean(row - 1), "the copied row is no longer clean");
            }
            if d.is_null_key(row) {
                assert_eq!(d.key_source_row(row), None);
            }
        }
        assert!(dups > 1000, "{dups}");
        assert!(!d.is_duplicate_key(0));
    }

    #[test]
    fn kinds_only_apply_where_they_make_sense() {
        let rates = DefectRates::parse([("bad_email", 1.0), ("inconsistent_bounce", 1.0)]).unwrap();
        let ff = DatasetDefects::new(1, day(), Dataset::FormFills, 100, &rates);
        assert!(ff.is_empty());
        let c = DatasetDefects::new(1, day(), Dataset::Contacts, 100, &rates);
        assert!((0..100).all(|r| c.has(DefectKind::BadEmail, r)));
    }
}
