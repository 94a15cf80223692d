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

/// `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS[.fffffffff]` or with `T`, optionally ending in `Z` or
/// an offset (`+02:00`, `-0500`, `+02`), as microseconds since the epoch in UTC (a time
/// without offset is UTC). Exact: digits below the microsecond must be zeros.
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
    // The offset: the last `+` or `-` after the seconds.
    let (body, offset_secs) = match b[19..].iter().rposition(|&c| c == b'+' || c == b'-') {
        Some(at) => {
            let at = 19 + at;
            let off = &b[at + 1..];
            let (oh, om) = match off.len() {
                2 => (digits(off)?, 0),
                4 => (digits(&off[..2])?, digits(&off[2..])?),
                5 if off[2] == b':' => (digits(&off[..2])?, digits(&off[3..])?),
                _ => return None,
            };
            if oh > 23 || om > 59 {
                return None;
            }
            let secs = (oh * 3600 + om * 60) as i64;
            (&b[..at], if b[at] == b'+' { secs } else { -secs })
        }
        None => (b, 0),
    };
    let mut micros = 0i64;
    if body.len() > 19 {
        let frac = &body[20..];
        if body[19] != b'.' || frac.is_empty() || frac.len() > 9 {
            return None;
        }
        let f = digits(frac)? as i64;
        micros = match frac.len() {
            n @ 1..=6 => f * 10i64.pow(6 - n as u32),
            n => {
                let below = 10i64.pow(n as u32 - 6);
                if f % below != 0 {
                    return None;
                }
                f / below
            }
        };
    }
    Some(days * MICROS_PER_DAY + ((h * 3600 + m * 60 + sec) as i64 - offset_secs) * 1_000_000 + micros)
}

/// An integer written as text: plain digits (the fast path), or a decimal or exponent form
/// whose value is exactly an integer (`1.0`, `1e3`, `-0.0`); `1.9` or a value outside
/// int64 is not an integer.
#[inline]
pub fn parse_int(s: &str) -> Option<i64> {
    s.parse::<i64>().ok().or_else(|| exact_decimal_int(s))
}

fn exact_decimal_int(s: &str) -> Option<i64> {
    let (negative, s) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i32>().ok()?),
        None => (s, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part.bytes().chain(frac_part.bytes()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    // The value is digits × 10^scale.
    let all_digits = format!("{int_part}{frac_part}");
    let digits = all_digits.trim_start_matches('0');
    let mut scale = exponent.checked_sub(frac_part.len() as i32)?;
    let mut digits = digits.as_bytes();
    while scale < 0 {
        match digits.split_last() {
            Some((b'0', rest)) => digits = rest,
            Some(_) => return None,
            None => break,
        }
        scale += 1;
    }
    if digits.is_empty() {
        return Some(0);
    }
    if digits.len() as i64 + scale.max(0) as i64 > 19 {
        return None;
    }
    let mut v: i128 = 0;
    for &d in digits {
        v = v * 10 + (d - b'0') as i128;
    }
    v *= 10i128.pow(scale.max(0) as u32);
    i64::try_from(if negative { -v } else { v }).ok()
}

#[inline]
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        // The accepted spellings (README); `yes`/`no`, `t`/`f`, `2` or `1.0` are not bools.
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
            if let Some(exact) = exact_typed_cast(input, ty) {
                return exact;
            }
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
        ColumnType::Int64 => parse_into!(Int64Builder::with_capacity(n), parse_int),
        ColumnType::Float64 => parse_into!(Float64Builder::with_capacity(n), parse_float),
        ColumnType::Bool => parse_into!(BooleanBuilder::with_capacity(n), parse_bool),
        ColumnType::Date => parse_into!(Date32Builder::with_capacity(n), parse_date),
        ColumnType::Timestamp => parse_into!(TimestampMicrosecondBuilder::with_capacity(n), parse_timestamp),
    };
    (out, failed)
}

/// The typed casts where arrow's would lose information; the same value gets the same
/// verdict as its text in a CSV: a float becomes an int64 only when it is an integer
/// (arrow truncates 1.9 to 1); a bool accepts only the integers 0 and 1 (arrow makes any
/// non-zero true) and no float; a bool is no number; a timestamp is no date (arrow drops the
/// time); a timestamp keeps its UTC instant and is exact to the microsecond.
fn exact_typed_cast(input: &ArrayRef, ty: ColumnType) -> Option<(ArrayRef, Vec<u32>)> {
    let from = input.data_type();
    let per_value = |convert: &dyn Fn(usize) -> Option<i64>| -> (Vec<Option<i64>>, Vec<u32>) {
        let mut failed = Vec::new();
        let values = (0..input.len())
            .map(|i| {
                if input.is_null(i) {
                    return None;
                }
                let v = convert(i);
                if v.is_none() {
                    failed.push(i as u32);
                }
                v
            })
            .collect();
        (values, failed)
    };
    let as_f64 = || cast_with_options(input, &DataType::Float64, &CastOptions::default()).ok();
    let as_i64 = || cast_with_options(input, &DataType::Int64, &CastOptions { safe: true, ..Default::default() }).ok();
    match (ty, from) {
        (ColumnType::Int64, DataType::Float16 | DataType::Float32 | DataType::Float64) => {
            let f = as_f64()?;
            let f = f.as_primitive::<Float64Type>();
            let (values, failed) = per_value(&|i| {
                let v = f.value(i);
                // 2^63 is the first float above i64::MAX.
                (v.fract() == 0.0 && v >= -9.223_372_036_854_776e18 && v < 9.223_372_036_854_776e18).then_some(v as i64)
            });
            Some((Arc::new(arrow::array::Int64Array::from(values)) as ArrayRef, failed))
        }
        (ColumnType::Bool, _) if from.is_integer() => {
            let ints = as_i64()?;
            let ints = ints.as_primitive::<Int64Type>();
            let (values, failed) = per_value(&|i| match (ints.is_valid(i), ints.value(i)) {
                (true, v @ (0 | 1)) => Some(v),
                _ => None,
            });
            let bools: arrow::array::BooleanArray = values.iter().map(|v| v.map(|v| v == 1)).collect();
            Some((Arc::new(bools) as ArrayRef, failed))
        }
        (ColumnType::Bool, _) if from.is_floating() => Some(all_failed(input, ty)),
        (ColumnType::Int64 | ColumnType::Float64 | ColumnType::Date | ColumnType::Timestamp, DataType::Boolean) => {
            Some(all_failed(input, ty))
        }
        (ColumnType::Date, DataType::Timestamp(_, _)) => Some(all_failed(input, ty)),
        (ColumnType::Timestamp, DataType::Timestamp(unit, _)) => {
            use arrow::datatypes::TimeUnit;
            // The stored values are UTC instants whatever the zone: reinterpret, then scale.
            let raw = cast_with_options(input, &DataType::Int64, &CastOptions::default()).ok()?;
            let raw = raw.as_primitive::<Int64Type>();
            let unit = *unit;
            let (values, failed) = per_value(&|i| {
                let v = raw.value(i);
                match unit {
                    TimeUnit::Second => v.checked_mul(1_000_000),
                    TimeUnit::Millisecond => v.checked_mul(1_000),
                    TimeUnit::Microsecond => Some(v),
                    TimeUnit::Nanosecond => (v % 1_000 == 0).then_some(v / 1_000),
                }
            });
            Some((Arc::new(arrow::array::TimestampMicrosecondArray::from(values)) as ArrayRef, failed))
        }
        _ => None,
    }
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
            .map(|k| Chunk { columns: vec![], rows: k.len(), first_record: 0, local_records: None, first_line: 0, lines: None, spans: None })
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
        let chunks = vec![Chunk { columns: vec![], rows: keys.len(), first_record: 0, local_records: None, first_line: 0, lines: None, spans: None }];
        let typed = vec![vec![Arc::new(StringArray::from(keys)) as ArrayRef]];
        assert_eq!(unique(&chunks, &typed, 0, true), vec![vec![0, 1, 2, 3]]);
        assert_eq!(unique(&chunks, &typed, 0, false), Vec::<Vec<u32>>::from([vec![]]));
        let refs: HashSet<Box<str>> = [Box::from(lower)].into_iter().collect();
        let col: ArrayRef = Arc::new(StringArray::from(vec![upper.as_str(), lower, "123e4567-e89b-12d3-a456-42661417400f"]));
        assert_eq!(foreign_key(&col, &refs, true), vec![2]);
        assert_eq!(foreign_key(&col, &refs, false), vec![0, 2]);
    }
}
