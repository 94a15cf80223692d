//! Safe casts and the row checks. Every check returns the offsets of the failing rows of
//! one chunk (failures are rare, so a sparse list is both small and fast to combine).

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringArray,
    TimestampMicrosecondBuilder,
};
use arrow::compute::{cast_with_options, CastOptions};
use arrow::datatypes::{DataType, Date32Type, Float64Type, Int64Type, TimestampMicrosecondType};
use chrono::NaiveDate;
use hashbrown::HashSet;

use super::contract::ColumnType;
use super::patterns::Pattern;
use super::read::Chunk;

pub const MICROS_PER_DAY: i64 = 86_400_000_000;

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
}

pub fn days_since_epoch(d: NaiveDate) -> i32 {
    (d - epoch()).num_days() as i32
}

#[inline]
fn digits(b: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u32;
    }
    Some(v)
}

/// `YYYY-MM-DD` as days since 1970-01-01.
#[inline]
pub fn parse_date(s: &str) -> Option<i32> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let d = NaiveDate::from_ymd_opt(digits(&b[..4])? as i32, digits(&b[5..7])?, digits(&b[8..10])?)?;
    Some(days_since_epoch(d))
}

/// `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS[.ffffff]` or with `T`, optionally ending in `Z`, as
/// microseconds since the epoch (naive, i.e. UTC).
#[inline]
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let s = s.strip_suffix('Z').unwrap_or(s);
    let b = s.as_bytes();
    let days = parse_date(s.get(..10)?)? as i64;
    if b.len() == 10 {
        return Some(days * MICROS_PER_DAY);
    }
    if b.len() < 19 || !(b[10] == b' ' || b[10] == b'T') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, m, sec) = (digits(&b[11..13])?, digits(&b[14..16])?, digits(&b[17..19])?);
    if h > 23 || m > 59 || sec > 59 {
        return None;
    }
    let mut micros = 0i64;
    if b.len() > 19 {
        let frac = &b[20..];
        if b[19] != b'.' || frac.is_empty() || frac.len() > 9 {
            return None;
        }
        let f = digits(frac)? as i64;
        micros = match frac.len() {
            n @ 1..=6 => f * 10i64.pow(6 - n as u32),
            n => f / 10i64.pow(n as u32 - 6),
        };
    }
    Some(days * MICROS_PER_DAY + ((h * 3600 + m * 60 + sec) as i64) * 1_000_000 + micros)
}

#[inline]
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "True" | "TRUE" | "1" => Some(true),
        "false" | "False" | "FALSE" | "0" => Some(false),
        _ => None,
    }
}

#[inline]
fn parse_float(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Converts one input column to its contract type. Returns the typed column and the rows
/// whose non-null value could not be converted (they become nulls in the typed column).
pub fn cast_column(input: &ArrayRef, ty: ColumnType) -> (ArrayRef, Vec<u32>) {
    let target = ty.data_type();
    if input.data_type() == &target {
        return (input.clone(), Vec::new());
    }
    let strings: ArrayRef = match input.data_type() {
        DataType::Utf8 => input.clone(),
        DataType::LargeUtf8 | DataType::Utf8View => match cast_with_options(input, &DataType::Utf8, &CastOptions::default()) {
            Ok(a) => a,
            Err(_) => return all_failed(input, ty),
        },
        _ => {
            // A typed input of another type (e.g. int32 where int64 is expected): arrow's
            // safe cast, a value it cannot convert becomes null and a type failure.
            let opts = CastOptions { safe: true, ..Default::default() };
            return match cast_with_options(input, &target, &opts) {
                Ok(out) => {
                    let failed = (0..input.len()).filter(|&i| input.is_valid(i) && out.is_null(i)).map(|i| i as u32).collect();
                    (out, failed)
                }
                Err(_) => all_failed(input, ty),
            };
        }
    };
    let s = strings.as_string::<i32>();
    let mut failed = Vec::new();
    macro_rules! parse_into {
        ($builder:expr, $parse:expr) => {{
            let mut b = $builder;
            for (i, v) in s.iter().enumerate() {
                match v {
                    None => b.append_null(),
                    Some(text) => match $parse(text) {
                        Some(x) => b.append_value(x),
                        None => {
                            failed.push(i as u32);
                            b.append_null()
                        }
                    },
                }
            }
            Arc::new(b.finish()) as ArrayRef
        }};
    }
    let n = s.len();
    let out = match ty {
        ColumnType::String => strings.clone(),
        ColumnType::Int64 => parse_into!(Int64Builder::with_capacity(n), |t: &str| t.parse::<i64>().ok()),
        ColumnType::Float64 => parse_into!(Float64Builder::with_capacity(n), parse_float),
        ColumnType::Bool => parse_into!(BooleanBuilder::with_capacity(n), parse_bool),
        ColumnType::Date => parse_into!(Date32Builder::with_capacity(n), parse_date),
        ColumnType::Timestamp => parse_into!(TimestampMicrosecondBuilder::with_capacity(n), parse_timestamp),
    };
    (out, failed)
}

fn all_failed(input: &ArrayRef, ty: ColumnType) -> (ArrayRef, Vec<u32>) {
    let failed = (0..input.len()).filter(|&i| input.is_valid(i)).map(|i| i as u32).collect();
    (arrow::array::new_null_array(&ty.data_type(), input.len()), failed)
}

/// Rows that are null in the input (a value that failed to cast is a type failure, not a
/// null).
pub fn not_null(typed: &ArrayRef, type_failed: &[u32]) -> Vec<u32> {
    if typed.null_count() == 0 {
        return Vec::new();
    }
    match typed.logical_nulls() {
        None => Vec::new(),
        Some(nulls) => nulls
            .iter()
            .enumerate()
            .filter(|(i, valid)| !valid && type_failed.binary_search(&(*i as u32)).is_err())
            .map(|(i, _)| i as u32)
            .collect(),
    }
}

fn failing_strings(typed: &ArrayRef, bad: impl Fn(&str) -> bool) -> Vec<u32> {
    let s = typed.as_string::<i32>();
    let mut out = Vec::new();
    if s.null_count() == 0 {
        for i in 0..s.len() {
            if bad(s.value(i)) {
                out.push(i as u32);
            }
        }
    } else {
        for (i, v) in s.iter().enumerate() {
            if matches!(v, Some(v) if bad(v)) {
                out.push(i as u32);
            }
        }
    }
    out
}

pub fn pattern(typed: &ArrayRef, p: &Pattern) -> Vec<u32> {
    failing_strings(typed, |v| !p.is_match(v))
}

pub fn accepted_values(typed: &ArrayRef, values: &HashSet<String>) -> Vec<u32> {
    failing_strings(typed, |v| !values.contains(v))
}

/// The key as compared: lower-cased when `fold_case` (uuid columns, RFC 9562), borrowed
/// unless it has an upper-case letter.
#[inline]
pub fn fold_key(v: &str, fold_case: bool) -> std::borrow::Cow<'_, str> {
    if fold_case && v.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(v.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(v)
    }
}

/// `keys` are lower-cased when `fold_case`.
pub fn foreign_key(typed: &ArrayRef, keys: &HashSet<Box<str>>, fold_case: bool) -> Vec<u32> {
    failing_strings(typed, |v| !keys.contains(fold_key(v, fold_case).as_ref()))
}

pub fn range(typed: &ArrayRef, min: Option<f64>, max: Option<f64>) -> Vec<u32> {
    let (lo, hi) = (min.unwrap_or(f64::NEG_INFINITY), max.unwrap_or(f64::INFINITY));
    let out_of = |v: f64| !(v >= lo && v <= hi);
    let mut out = Vec::new();
    match typed.data_type() {
        DataType::Float64 => {
            for (i, v) in typed.as_primitive::<Float64Type>().iter().enumerate() {
                if matches!(v, Some(v) if out_of(v)) {
                    out.push(i as u32)
                }
            }
        }
        DataType::Int64 => {
            for (i, v) in typed.as_primitive::<Int64Type>().iter().enumerate() {
                if matches!(v, Some(v) if out_of(v as f64)) {
                    out.push(i as u32)
                }
            }
        }
        _ => {}
    }
    out
}

/// Rows whose day is not within `[first_day, last_day]` (days since the epoch).
pub fn freshness(typed: &ArrayRef, first_day: i32, last_day: i32) -> Vec<u32> {
    let mut out = Vec::new();
    let outside = |d: i64| d < first_day as i64 || d > last_day as i64;
    match typed.data_type() {
        DataType::Date32 => {
            for (i, v) in typed.as_primitive::<Date32Type>().iter().enumerate() {
                if matches!(v, Some(d) if outside(d as i64)) {
                    out.push(i as u32)
                }
            }
        }
        DataType::Timestamp(_, _) => {
            for (i, v) in typed.as_primitive::<TimestampMicrosecondType>().iter().enumerate() {
                if matches!(v, Some(t) if outside(t.div_euclid(MICROS_PER_DAY))) {
                    out.push(i as u32)
                }
            }
        }
        _ => {}
    }
    out
}

/// Every row whose key occurs more than once in the whole input (all copies), per chunk.
/// Nulls are not keys (they are not_null failures).
///
/// Parallel and exact: every chunk hashes its keys and sorts its rows into shards by hash
/// (a key always lands in the same shard); then every shard finds its duplicates on its own
/// thread, walking the chunks in order, with a hash table of its keys only.
///
/// With `fold_case` (uuid columns) keys differing only in ASCII case are the same key.
pub fn unique(chunks: &[Chunk], typed: &[Vec<ArrayRef>], col: usize, fold_case: bool) -> Vec<Vec<u32>> {
    use rayon::prelude::*;
    use std::hash::BuildHasher;

    let strings: Vec<Option<StringArray>> = typed
        .par_iter()
        .map(|cols| {
            let a = &cols[col];
            match a.data_type() {
                DataType::Utf8 => Some(a.as_string::<i32>().clone()),
                _ => cast_with_options(a, &DataType::Utf8, &CastOptions::default())
                    .ok()
                    .map(|a| a.as_string::<i32>().clone()),
            }
        })
        .collect();
    let hasher = hashbrown::DefaultHashBuilder::default();
    let shards = (rayon::current_num_threads() * 8).next_power_of_two();
    // The shard comes from hash bits that the tables use neither for their slot (low
    // bits) nor for their tag (top 7 bits).
    let shard_of = |h: u64| ((h >> 32) as usize) & (shards - 1);
    // bucketed[chunk][shard] = (row, hash) of that chunk's keys in that shard, in row order.
    let bucketed: Vec<Vec<Vec<(u32, u64)>>> = strings
        .par_iter()
        .map(|s| {
            let mut buckets: Vec<Vec<(u32, u64)>> = vec![Vec::new(); shards];
            if let Some(s) = s {
                for (ri, v) in s.iter().enumerate() {
                    if let Some(v) = v {
                        let h = hasher.hash_one(fold_key(v, fold_case).as_ref());
                        buckets[shard_of(h)].push((ri as u32, h));
                    }
                }
            }
            buckets
        })
        .collect();
    // A key's first occurrence as (chunk << 32 | row); the high bit marks "already reported".
    const REPORTED: u64 = 1 << 63;
    let value = |at: u64| -> &str {
        let at = at & !REPORTED;
        strings[(at >> 32) as usize].as_ref().expect("a bucketed chunk has keys").value(at as u32 as usize)
    };
    let duplicates: Vec<Vec<u64>> = (0..shards)
        .into_par_iter()
        .map(|shard| {
            let keys: usize = bucketed.iter().map(|b| b[shard].len()).sum();
            let mut first: hashbrown::HashTable<(u64, u64)> = hashbrown::HashTable::with_capacity(keys);
            let mut found = Vec::new();
            for (ci, buckets) in bucketed.iter().enumerate() {
                for &(ri, h) in &buckets[shard] {
                    let here = ((ci as u64) << 32) | ri as u64;
                    let v = value(here);
                    let same = |at: u64| if fold_case { value(at).eq_ignore_ascii_case(v) } else { value(at) == v };
                    match first.entry(h, |&(fh, at)| fh == h && same(at), |&(fh, _)| fh) {
                        hashbrown::hash_table::Entry::Vacant(e) => {
                            e.insert((h, here));
                        }
                        hashbrown::hash_table::Entry::Occupied(mut e) => {
                            let at = &mut e.get_mut().1;
                            if *at & REPORTED == 0 {
                                found.push(*at);
                                *at |= REPORTED;
                            }
                            found.push(here);
                        }
                    }
                }
            }
            found
        })
        .collect();
    let mut failed: Vec<Vec<u32>> = vec![Vec::new(); chunks.len()];
    for at in duplicates.into_iter().flatten() {
        failed[(at >> 32) as usize].push(at as u32);
    }
    failed.par_iter_mut().for_each(|f| f.sort_unstable());
    failed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casts_are_safe_and_exact() {
        assert_eq!(parse_date("2025-05-25"), Some(20233));
        assert_eq!(parse_date("2025-02-30"), None);
        assert_eq!(parse_date("2025-5-25"), None);
        assert_eq!(parse_timestamp("1970-01-02 00:00:01"), Some(MICROS_PER_DAY + 1_000_000));
        assert_eq!(parse_timestamp("1970-01-01T00:00:00.5Z"), Some(500_000));
        assert_eq!(parse_timestamp("1970-01-01"), Some(0));
        assert_eq!(parse_timestamp("1970-01-01 24:00:00"), None);
        let input: ArrayRef = Arc::new(StringArray::from(vec![Some("1"), None, Some("x"), Some("2.5")]));
        let (typed, failed) = cast_column(&input, ColumnType::Int64);
        assert_eq!(failed, vec![2, 3]);
        assert_eq!(typed.null_count(), 3);
        assert_eq!(not_null(&typed, &failed), vec![1]);
        let (_, failed) = cast_column(&input, ColumnType::Float64);
        assert_eq!(failed, vec![2]);
    }

    #[test]
    fn unique_flags_every_copy_across_chunks_and_shards() {
        // 3 chunks; keys repeat within a chunk, across chunks and three times; nulls are
        // never duplicates; enough distinct keys to spread over every shard.
        let keys: Vec<Vec<Option<String>>> = (0..3)
            .map(|c| {
                (0..20_000)
                    .map(|r| match (c, r) {
                        (_, r) if r % 1000 == 7 => None,
                        (0, 5) | (0, 9) => Some("twice-in-chunk-0".to_string()),
                        (0, 11) | (1, 12) | (2, 13) => Some("thrice".to_string()),
                        (1, 19_999) | (2, 0) => Some("across-1-2".to_string()),
                        (c, r) => Some(format!("key-{c}-{r}")),
                    })
                    .collect()
            })
            .collect();
        let chunks: Vec<Chunk> = keys
            .iter()
            .map(|k| Chunk { columns: vec![], rows: k.len(), first_record: 0, local_records: None, first_line: 0, lines: None })
            .collect();
        let typed: Vec<Vec<ArrayRef>> =
            keys.iter().map(|k| vec![Arc::new(StringArray::from(k.clone())) as ArrayRef]).collect();
        let failed = unique(&chunks, &typed, 0, false);
        assert_eq!(failed, vec![vec![5, 9, 11], vec![12, 19_999], vec![0, 13]]);
        // The same keys in one chunk: the same rows, offset by their chunk.
        let one = vec![Arc::new(StringArray::from(keys.concat())) as ArrayRef];
        let whole = unique(&chunks[..1], &[one], 0, false);
        let want: Vec<u32> = failed.iter().enumerate().flat_map(|(c, f)| f.iter().map(move |r| r + 20_000 * c as u32)).collect();
        assert_eq!(whole, vec![want]);
    }

    #[test]
    fn uuid_keys_compare_case_insensitively_other_strings_do_not() {
        let lower = "123e4567-e89b-12d3-a456-426614174000";
        let upper = lower.to_ascii_uppercase();
        let keys = vec![Some(lower.to_string()), Some(upper.clone()), Some("Abc".into()), Some("abc".into()), None];
        let chunks = vec![Chunk { columns: vec![], rows: keys.len(), first_record: 0, local_records: None, first_line: 0, lines: None }];
        let typed = vec![vec![Arc::new(StringArray::from(keys)) as ArrayRef]];
        assert_eq!(unique(&chunks, &typed, 0, true), vec![vec![0, 1, 2, 3]]);
        assert_eq!(unique(&chunks, &typed, 0, false), Vec::<Vec<u32>>::from([vec![]]));
        let refs: HashSet<Box<str>> = [Box::from(lower)].into_iter().collect();
        let col: ArrayRef = Arc::new(StringArray::from(vec![upper.as_str(), lower, "123e4567-e89b-12d3-a456-42661417400f"]));
        assert_eq!(foreign_key(&col, &refs, true), vec![2]);
        assert_eq!(foreign_key(&col, &refs, false), vec![0, 2]);
    }
}
