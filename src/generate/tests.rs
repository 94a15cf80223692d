use std::collections::HashSet;

use arrow::array::{Array, AsArray};
use arrow::datatypes::Date32Type;
use chrono::NaiveDate;

use super::*;

fn params(seed: u64, scale: f64, defects: &[(&str, f64)]) -> DayParams {
    DayParams {
        seed,
        ds: NaiveDate::from_ymd_opt(2025, 5, 25).unwrap(),
        scale_factor: scale,
        defects: DefectRates::parse(defects.iter().copied()).unwrap(),
    }
}

fn column_strings(batches: &[RecordBatch], name: &str) -> Vec<Option<String>> {
    batches
        .iter()
        .flat_map(|b| {
            let col = b.column_by_name(name).unwrap().as_string::<i32>().clone();
            (0..col.len()).map(move |i| col.is_valid(i).then(|| col.value(i).to_string()))
        })
        .collect()
}

fn no_progress() -> impl FnMut(u64, u64) -> bool {
    |_, _| true
}

#[test]
fn row_counts_follow_the_scale_factor() {
    for (scale, contacts) in [(0.01, 1_000usize), (0.2, 20_000)] {
        let p = params(1, scale, &[]);
        for d in Dataset::ALL {
            let (schema, batches, defects) = generate_batches(d, &p).unwrap();
            let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
            assert_eq!(rows, d.rows(scale), "{d}");
            assert_eq!(schema, d.schema());
            assert!(defects.is_empty());
        }
        assert_eq!(Dataset::Contacts.rows(scale), contacts);
    }
}

#[test]
fn facts_reference_existing_keys_with_70_20_10_skew() {
    let p = params(7, 0.2, &[]);
    let keys = |d: Dataset| -> HashSet<String> {
        let (_, b, _) = generate_batches(d, &p).unwrap();
        column_strings(&b, d.key_column()).into_iter().map(Option::unwrap).collect()
    };
    let (contacts, campaigns, forms, pages) =
        (keys(Dataset::Contacts), keys(Dataset::Campaigns), keys(Dataset::Forms), keys(Dataset::Pages));
    assert_eq!(contacts.len(), Dataset::Contacts.rows(0.2), "contact ids are unique");
    let (_, fills, _) = generate_batches(Dataset::FormFills, &p).unwrap();
    let (_, web, _) = generate_batches(Dataset::WebsiteActivity, &p).unwrap();
    for (batches, col, universe) in [
        (&fills, "contact_id", &contacts),
        (&fills, "form_id", &forms),
        (&fills, "campaign_id", &campaigns),
        (&web, "contact_id", &contacts),
        (&web, "campaign_id", &campaigns),
        (&web, "page_id", &pages),
    ] {
        for v in column_strings(batches, col) {
            assert!(universe.contains(&v.unwrap()), "{col}");
        }
    }
    // 70/20/10 on campaign references: CMP-001..004 hot, 005..010 warm, rest cold.
    let refs = column_strings(&web, "campaign_id");
    let hot = refs.iter().filter(|v| v.as_deref().unwrap() <= "CMP-004").count() as f64;
    let warm = refs.iter().filter(|v| ("CMP-005".."CMP-011").contains(&v.as_deref().unwrap())).count() as f64;
    let n = refs.len() as f64;
    assert!((hot / n - 0.7).abs() < 0.01, "{}", hot / n);
    assert!((warm / n - 0.2).abs() < 0.01, "{}", warm / n);
}

#[test]
fn website_rows_obey_their_rules() {
    let (_, web, _) = generate_batches(Dataset::WebsiteActivity, &params(3, 0.05, &[])).unwrap();
    for b in &web {
        let pv = b.column_by_name("pages_viewed").unwrap().as_primitive::<arrow::datatypes::Int64Type>();
        let bounce = b.column_by_name("bounce").unwrap().as_boolean();
        let dur = b.column_by_name("session_duration").unwrap().as_primitive::<arrow::datatypes::Float64Type>();
        let day = b.column_by_name("event_date").unwrap().as_primitive::<Date32Type>();
        for i in 0..b.num_rows() {
            assert!(pv.value(i) >= 1);
            assert_eq!(bounce.value(i), pv.value(i) == 1);
            assert!(dur.value(i) >= 0.0);
            assert_eq!(day.value_as_date(i), NaiveDate::from_ymd_opt(2025, 5, 25));
        }
    }
}

#[test]
fn files_are_identical_for_any_thread_count() {
    let p = params(11, 0.3, &[("null_key", 0.01), ("bad_email", 0.01)]);
    let mut outputs = Vec::new();
    for threads in [1, 3] {
        let dir = tempfile::tempdir().unwrap();
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let mut files = Vec::new();
        for d in [Dataset::Contacts, Dataset::FormFills, Dataset::WebsiteActivity] {
            let s = pool.install(|| write_dataset(d, &p, dir.path(), None, false, &mut no_progress())).unwrap();
            files.push(fs::read(&s.path).unwrap());
        }
        outputs.push((dir, files));
    }
    assert_eq!(outputs[0].1, outputs[1].1);
}

#[test]
fn a_column_depends_only_on_its_own_randomness() {
    // Values of first_name are a function of (seed, ds, dataset, column, row) alone, so
    // adding or changing another column cannot move them.
    let p = params(5, 0.01, &[]);
    let (_, contacts, _) = generate_batches(Dataset::Contacts, &p).unwrap();
    let rng = random::ColumnRng::new(5, p.ds, Dataset::Contacts, "first_name");
    for (row, name) in column_strings(&contacts, "first_name").iter().enumerate() {
        let expected = vocab::FIRST_NAMES[rng.below(row as u64, 0, vocab::FIRST_NAMES.len())];
        assert_eq!(name.as_deref(), Some(expected));
    }
    // Injecting defects into other columns leaves first names as they were.
    let (_, with_defects, _) =
        generate_batches(Dataset::Contacts, &params(5, 0.01, &[("bad_email", 0.5), ("null_key", 0.5)])).unwrap();
    assert_eq!(column_strings(&contacts, "first_name"), column_strings(&with_defects, "first_name"));
    assert_ne!(column_strings(&contacts, "email"), column_strings(&with_defects, "email"));
}

#[test]
fn same_parameters_skip_and_changed_parameters_regenerate() {
    let dir = tempfile::tempdir().unwrap();
    let p = params(1, 0.01, &[]);
    let first = write_dataset(Dataset::Contacts, &p, dir.path(), None, false, &mut no_progress()).unwrap();
    assert!(!first.skipped);
    let again = write_dataset(Dataset::Contacts, &p, dir.path(), None, false, &mut no_progress()).unwrap();
    assert!(again.skipped);
    assert_eq!((again.rows, again.bytes), (first.rows, first.bytes));
    let forced = write_dataset(Dataset::Contacts, &p, dir.path(), None, true, &mut no_progress()).unwrap();
    assert!(!forced.skipped);
    let other_seed = write_dataset(Dataset::Contacts, &params(2, 0.01, &[]), dir.path(), None, false, &mut no_progress()).unwrap();
    assert!(!other_seed.skipped);
    // A truncated file is not taken for a finished one.
    let f = fs::OpenOptions::new().write(true).open(&other_seed.path).unwrap();
    f.set_len(10).unwrap();
    let repaired = write_dataset(Dataset::Contacts, &params(2, 0.01, &[]), dir.path(), None, false, &mut no_progress()).unwrap();
    assert!(!repaired.skipped);
    assert_eq!(fs::metadata(&repaired.path).unwrap().len(), other_seed.bytes);
}

#[test]
fn the_manifest_lists_exactly_the_injected_defects() {
    let rates = [
        ("null_key", 0.01),
        ("duplicate_key", 0.01),
        ("stale_date", 0.02),
        ("orphan_foreign_key", 0.01),
        ("out_of_range", 0.01),
        ("inconsistent_bounce", 0.01),
    ];
    let p = params(9, 0.05, &rates);
    let (_, web, defects) = generate_batches(Dataset::WebsiteActivity, &p).unwrap();
    let ids = column_strings(&web, "session_id");
    let nulls: HashSet<u64> = ids.iter().enumerate().filter(|(_, v)| v.is_none()).map(|(i, _)| i as u64).collect();
    let listed: HashSet<u64> = defects.iter().filter(|d| d.kind == DefectKind::NullKey).map(|d| d.row).collect();
    assert_eq!(nulls, listed);
    for d in defects.iter().filter(|d| d.kind == DefectKind::DuplicateKey) {
        let partner = d.partner_row.unwrap() as usize;
        assert_eq!(ids[d.row as usize], ids[partner]);
    }
    let mut counts = BTreeMap::new();
    for d in &defects {
        *counts.entry(d.kind).or_insert(0usize) += 1;
    }
    let n = Dataset::WebsiteActivity.rows(0.05) as f64;
    for (kind, rate) in rates {
        let k = DefectKind::parse(kind).unwrap();
        let got = counts[&k] as f64 / n;
        assert!((got - rate).abs() < rate * 0.35, "{kind}: {got}");
    }
}

#[test]
fn unwritable_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    fs::write(&blocker, b"x").unwrap();
    let err = write_dataset(Dataset::Forms, &params(1, 1.0, &[]), &blocker.join("sub"), None, false, &mut no_progress())
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot create directory") && err.contains("file/sub"), "{err}");
}
