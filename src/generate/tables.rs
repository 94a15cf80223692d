//! Column builders for each dataset. A chunk of rows is a pure function of
//! (day parameters, row range), so chunks build in parallel and in any order.

use std::fmt::Write as _;
use std::ops::Range;
use std::sync::{Arc, LazyLock};

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Array, Float64Array, Int64Array, StringBuilder,
    TimestampMicrosecondArray,
};
use chrono::NaiveDate;

use super::defects::{DatasetDefects, DefectKind, DefectRates, DefectRecord};
use super::random::ColumnRng;
use super::vocab;
use crate::datasets::Dataset;

/// What a day's data depends on.
#[derive(Clone, Debug, PartialEq)]
pub struct DayParams {
    pub seed: u64,
    pub ds: NaiveDate,
    pub scale_factor: f64,
    pub defects: DefectRates,
}

static LOWER_FIRST: LazyLock<Vec<String>> =
    LazyLock::new(|| vocab::FIRST_NAMES.iter().map(|s| s.to_ascii_lowercase()).collect());
static LOWER_LAST: LazyLock<Vec<String>> =
    LazyLock::new(|| vocab::LAST_NAMES.iter().map(|s| s.to_ascii_lowercase()).collect());

pub fn campaign_id(i: usize) -> String {
    format!("CMP-{:03}", i + 1)
}
pub fn form_id(i: usize) -> String {
    format!("FRM-{:02}", i + 1)
}
pub fn page_id(i: usize) -> String {
    format!("PG-{:03}", i + 1)
}

/// Picks contacts for the fact tables: only rows of that day's contacts file that carry
/// no injected defect, so every reference is valid unless an orphan is injected on purpose.
struct ContactRefs {
    rows: usize,
    defects: DatasetDefects,
    id_rng: ColumnRng,
}

impl ContactRefs {
    fn pick(&self, rng: &ColumnRng, row: u64) -> usize {
        for draw in 0..16 {
            let i = rng.below(row, draw, self.rows);
            if self.defects.is_clean(i) {
                return i;
            }
        }
        let start = rng.below(row, 16, self.rows);
        (0..self.rows).map(|k| (start + k) % self.rows).find(|i| self.defects.is_clean(*i)).unwrap_or(start)
    }
}

/// Builds chunks of one dataset for one day.
pub struct TableBuilder {
    pub dataset: Dataset,
    params: DayParams,
    rows: usize,
    defects: DatasetDefects,
    contacts: ContactRefs,
    ds_days: i32,
    campaign_ids: Vec<String>,
    form_ids: Vec<String>,
    page_ids: Vec<String>,
}

type Chunk = (Vec<ArrayRef>, Vec<DefectRecord>);

impl TableBuilder {
    pub fn new(dataset: Dataset, params: &DayParams) -> Self {
        let rows = dataset.rows(params.scale_factor);
        let defects = DatasetDefects::new(params.seed, params.ds, dataset, rows, &params.defects);
        let contact_rows = Dataset::Contacts.rows(params.scale_factor);
        let contacts = ContactRefs {
            rows: contact_rows,
            defects: DatasetDefects::new(
                params.seed,
                params.ds,
                Dataset::Contacts,
                contact_rows,
                &params.defects,
            ),
            id_rng: ColumnRng::new(params.seed, params.ds, Dataset::Contacts, "contact_id"),
        };
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid epoch");
        TableBuilder {
            dataset,
            params: params.clone(),
            rows,
            defects,
            contacts,
            ds_days: (params.ds - epoch).num_days() as i32,
            campaign_ids: (0..vocab::CAMPAIGN_NAMES.len()).map(campaign_id).collect(),
            form_ids: (0..vocab::FORM_TYPES.len()).map(form_id).collect(),
            page_ids: (0..vocab::PAGES.len()).map(page_id).collect(),
        }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    fn rng(&self, column: &str) -> ColumnRng {
        ColumnRng::new(self.params.seed, self.params.ds, self.dataset, column)
    }

    pub fn build(&self, range: Range<usize>) -> Chunk {
        match self.dataset {
            Dataset::Campaigns => self.campaigns(range),
            Dataset::Forms => self.forms(range),
            Dataset::Pages => self.pages(range),
            Dataset::Contacts => self.contacts(range),
            Dataset::FormFills => self.form_fills(range),
            Dataset::WebsiteActivity => self.website_activity(range),
        }
    }

    fn campaigns(&self, range: Range<usize>) -> Chunk {
        let ids = range.clone().map(|i| Some(self.campaign_ids[i].as_str()));
        let names = range.map(|i| Some(vocab::CAMPAIGN_NAMES[i]));
        (vec![strings(ids), strings(names)], vec![])
    }

    fn forms(&self, range: Range<usize>) -> Chunk {
        let ids = range.clone().map(|i| Some(self.form_ids[i].as_str()));
        let types = range.map(|i| Some(vocab::FORM_TYPES[i]));
        (vec![strings(ids), strings(types)], vec![])
    }

    fn pages(&self, range: Range<usize>) -> Chunk {
        let ids = range.clone().map(|i| Some(self.page_ids[i].as_str()));
        let urls = range.clone().map(|i| Some(vocab::PAGES[i].0));
        let titles = range.map(|i| Some(vocab::PAGES[i].1));
        (vec![strings(ids), strings(urls), strings(titles)], vec![])
    }

    /// The key column: a UUID per row, null or copied from the previous row when injected.
    fn uuid_keys(&self, column: &'static str, range: Range<usize>, out: &mut Vec<DefectRecord>) -> ArrayRef {
        let rng = self.rng(column);
        let n = capacity(&range);
        let mut b = StringBuilder::with_capacity(n, n * 36);
        for row in range {
            match self.defects.key_source_row(row) {
                Some(src) => b.append_value(uuid_str(&rng.uuid(src as u64))),
                None => {
                    b.append_null();
                    out.push(record(row, DefectKind::NullKey, column, None));
                }
            }
            if self.defects.is_duplicate_key(row) {
                out.push(record(row, DefectKind::DuplicateKey, column, Some(row - 1)));
            }
        }
        Arc::new(b.finish())
    }

    /// `ds` as days since the epoch, or 1-30 days earlier for a stale-date defect.
    fn day_of_row(&self, row: usize, column: &'static str, out: &mut Vec<DefectRecord>) -> i32 {
        if self.defects.has(DefectKind::StaleDate, row) {
            out.push(record(row, DefectKind::StaleDate, column, None));
            self.ds_days - 1 - self.defects.detail(DefectKind::StaleDate, row, 30) as i32
        } else {
            self.ds_days
        }
    }

    fn contacts(&self, range: Range<usize>) -> Chunk {
        let n = capacity(&range);
        let mut defects = Vec::new();
        let ids = self.uuid_keys("contact_id", range.clone(), &mut defects);
        let (r_first, r_last, r_company, r_email_domain) =
            (self.rng("first_name"), self.rng("last_name"), self.rng("company"), self.rng("email"));
        let (r_industry, r_lead, r_job, r_country, r_opt, r_signup) = (
            self.rng("industry"),
            self.rng("lead_source"),
            self.rng("job_title"),
            self.rng("country"),
            self.rng("opted_in"),
            self.rng("signup_date"),
        );
        let mut first = StringBuilder::with_capacity(n, n * 7);
        let mut last = StringBuilder::with_capacity(n, n * 7);
        let mut email = StringBuilder::with_capacity(n, n * 32);
        let mut company = StringBuilder::with_capacity(n, n * 16);
        let mut industry = StringBuilder::with_capacity(n, n * 10);
        let mut lead = StringBuilder::with_capacity(n, n * 8);
        let mut job = StringBuilder::with_capacity(n, n * 18);
        let mut country = StringBuilder::with_capacity(n, n * 13);
        let mut opted = BooleanBuilder::with_capacity(n);
        let mut signup = Vec::with_capacity(n);
        for row in range {
            let r = row as u64;
            let fi = r_first.below(r, 0, vocab::FIRST_NAMES.len());
            let li = r_last.below(r, 0, vocab::LAST_NAMES.len());
            let (company_name, company_domain) = vocab::COMPANIES[r_company.below(r, 0, vocab::COMPANIES.len())];
            first.append_value(vocab::FIRST_NAMES[fi]);
            last.append_value(vocab::LAST_NAMES[li]);
            company.append_value(company_name);
            let domain = if r_email_domain.unit(r, 0) < 0.7 {
                company_domain
            } else {
                vocab::FREE_EMAIL_DOMAINS[r_email_domain.below(r, 1, vocab::FREE_EMAIL_DOMAINS.len())]
            };
            // The row number makes every address unique within the day.
            let (lf, ll, num) = (&LOWER_FIRST[fi], &LOWER_LAST[li], row + 1);
            let _ = if self.defects.has(DefectKind::BadEmail, row) {
                defects.push(record(row, DefectKind::BadEmail, "email", None));
                match self.defects.detail(DefectKind::BadEmail, row, 4) {
                    0 => write!(email, "{lf} {ll}{num}@{domain}"),
                    1 => write!(email, "{lf}.{ll}{num}.{domain}"),
                    2 => write!(email, "{lf}.{ll}{num}@@{domain}"),
                    _ => write!(email, "{lf}.{ll}{num}@localhost"),
                }
            } else {
                write!(email, "{lf}.{ll}{num}@{domain}")
            };
            email.append_value("");
            industry.append_value(r_industry.weighted(r, 0, vocab::INDUSTRIES));
            lead.append_value(r_lead.weighted(r, 0, vocab::LEAD_SOURCES));
            job.append_value(vocab::JOB_TITLES[r_job.below(r, 0, vocab::JOB_TITLES.len())]);
            country.append_value(r_country.weighted(r, 0, vocab::COUNTRIES));
            opted.append_value(r_opt.unit(r, 0) < 0.62);
            let day = self.day_of_row(row, "signup_date", &mut defects) as i64;
            let second = r_signup.below(r, 0, 86_400) as i64;
            signup.push((day * 86_400 + second) * 1_000_000);
        }
        let columns: Vec<ArrayRef> = vec![
            ids,
            Arc::new(first.finish()),
            Arc::new(last.finish()),
            Arc::new(email.finish()),
            Arc::new(company.finish()),
            Arc::new(industry.finish()),
            Arc::new(lead.finish()),
            Arc::new(job.finish()),
            Arc::new(country.finish()),
            Arc::new(opted.finish()),
            Arc::new(TimestampMicrosecondArray::from(signup)),
        ];
        (columns, sorted(defects))
    }

    fn form_fills(&self, range: Range<usize>) -> Chunk {
        let n = capacity(&range);
        let mut defects = Vec::new();
        let ids = self.uuid_keys("fill_id", range.clone(), &mut defects);
        let (r_form, r_contact, r_campaign, r_ref, r_ua, r_value, r_orphan) = (
            self.rng("form_id"),
            self.rng("contact_id"),
            self.rng("campaign_id"),
            self.rng("referrer_url"),
            self.rng("user_agent"),
            self.rng("estimated_value"),
            self.rng("orphan_contact_id"),
        );
        let mut form = StringBuilder::with_capacity(n, n * 6);
        let mut contact = StringBuilder::with_capacity(n, n * 36);
        let mut campaign = StringBuilder::with_capacity(n, n * 7);
        let mut fill_date = Vec::with_capacity(n);
        let mut referrer = StringBuilder::with_capacity(n, n * 24);
        let mut agent = StringBuilder::with_capacity(n, n * 110);
        let mut value = Vec::with_capacity(n);
        for row in range {
            let r = row as u64;
            let orphan = self
                .defects
                .has(DefectKind::OrphanForeignKey, row)
                .then(|| self.defects.detail(DefectKind::OrphanForeignKey, row, 3));
            let fi = r_form.skewed(r, self.form_ids.len());
            if orphan == Some(0) {
                defects.push(record(row, DefectKind::OrphanForeignKey, "form_id", None));
                let _ = write!(form, "FRM-9{}", r_form.below(r, 2, 10));
                form.append_value("");
            } else {
                form.append_value(&self.form_ids[fi]);
            }
            let ci = self.contacts.pick(&r_contact, r);
            if orphan == Some(1) {
                defects.push(record(row, DefectKind::OrphanForeignKey, "contact_id", None));
                contact.append_value(uuid_str(&r_orphan.uuid(r)));
            } else {
                contact.append_value(uuid_str(&self.contacts.id_rng.uuid(ci as u64)));
            }
            let ki = r_campaign.skewed(r, self.campaign_ids.len());
            if orphan == Some(2) {
                defects.push(record(row, DefectKind::OrphanForeignKey, "campaign_id", None));
                let _ = write!(campaign, "CMP-9{:02}", r_campaign.below(r, 2, 100));
                campaign.append_value("");
            } else {
                campaign.append_value(&self.campaign_ids[ki]);
            }
            fill_date.push(self.day_of_row(row, "fill_date", &mut defects));
            referrer.append_value(vocab::REFERRER_URLS[r_ref.below(r, 0, vocab::REFERRER_URLS.len())]);
            agent.append_value(vocab::USER_AGENTS[r_ua.below(r, 0, vocab::USER_AGENTS.len())]);
            // Skewed low: most fills are worth a few hundred, a few are worth thousands.
            let u = r_value.unit(r, 0);
            let mut v = round2(100.0 + 9_900.0 * u * u * u);
            if self.defects.has(DefectKind::OutOfRange, row) {
                defects.push(record(row, DefectKind::OutOfRange, "estimated_value", None));
                v = match self.defects.detail(DefectKind::OutOfRange, row, 2) {
                    0 => -v,
                    _ => round2(10_000.01 + 90_000.0 * r_value.unit(r, 1)),
                };
            }
            value.push(v);
        }
        let columns: Vec<ArrayRef> = vec![
            ids,
            Arc::new(form.finish()),
            Arc::new(contact.finish()),
            Arc::new(campaign.finish()),
            Arc::new(Date32Array::from(fill_date)),
            Arc::new(referrer.finish()),
            Arc::new(agent.finish()),
            Arc::new(Float64Array::from(value)),
        ];
        (columns, sorted(defects))
    }

    fn website_activity(&self, range: Range<usize>) -> Chunk {
        let n = capacity(&range);
        let mut defects = Vec::new();
        let ids = self.uuid_keys("session_id", range.clone(), &mut defects);
        let (r_contact, r_campaign, r_page, r_event, r_duration, r_pages, r_referrer, r_orphan) = (
            self.rng("contact_id"),
            self.rng("campaign_id"),
            self.rng("page_id"),
            self.rng("event_type"),
            self.rng("session_duration"),
            self.rng("pages_viewed"),
            self.rng("referrer_domain"),
            self.rng("orphan_contact_id"),
        );
        let mut contact = StringBuilder::with_capacity(n, n * 36);
        let mut campaign = StringBuilder::with_capacity(n, n * 7);
        let mut page = StringBuilder::with_capacity(n, n * 6);
        let mut url = StringBuilder::with_capacity(n, n * 16);
        let mut title = StringBuilder::with_capacity(n, n * 16);
        let mut event_date = Vec::with_capacity(n);
        let mut event = StringBuilder::with_capacity(n, n * 9);
        let mut duration = Vec::with_capacity(n);
        let mut pages_viewed = Vec::with_capacity(n);
        let mut bounce = BooleanBuilder::with_capacity(n);
        let mut referrer = StringBuilder::with_capacity(n, n * 11);
        for row in range {
            let r = row as u64;
            let orphan = self
                .defects
                .has(DefectKind::OrphanForeignKey, row)
                .then(|| self.defects.detail(DefectKind::OrphanForeignKey, row, 3));
            let ci = self.contacts.pick(&r_contact, r);
            if orphan == Some(0) {
                defects.push(record(row, DefectKind::OrphanForeignKey, "contact_id", None));
                contact.append_value(uuid_str(&r_orphan.uuid(r)));
            } else {
                contact.append_value(uuid_str(&self.contacts.id_rng.uuid(ci as u64)));
            }
            let ki = r_campaign.skewed(r, self.campaign_ids.len());
            if orphan == Some(1) {
                defects.push(record(row, DefectKind::OrphanForeignKey, "campaign_id", None));
                let _ = write!(campaign, "CMP-9{:02}", r_campaign.below(r, 2, 100));
                campaign.append_value("");
            } else {
                campaign.append_value(&self.campaign_ids[ki]);
            }
            let pi = r_page.skewed(r, self.page_ids.len());
            if orphan == Some(2) {
                defects.push(record(row, DefectKind::OrphanForeignKey, "page_id", None));
                let _ = write!(page, "PG-9{:02}", r_page.below(r, 2, 100));
                page.append_value("");
            } else {
                page.append_value(&self.page_ids[pi]);
            }
            url.append_value(vocab::PAGES[pi].0);
            title.append_value(vocab::PAGES[pi].1);
            event_date.push(self.day_of_row(row, "event_date", &mut defects));
            event.append_value(r_event.weighted(r, 0, vocab::EVENT_TYPES));
            // About 38% single-page sessions; the rest a geometric tail of further pages.
            let mut pv: i64 = 1;
            if r_pages.unit(r, 0) >= 0.38 {
                pv = 2;
                while pv < 60 && r_pages.unit(r, pv as u64) < 0.55 {
                    pv += 1;
                }
            }
            // Long-tailed: a base time per page times a heavy-tailed factor (up to 20x).
            let mut secs = if pv == 1 {
                round2(2.0 + 58.0 * r_duration.unit(r, 0))
            } else {
                let base = pv as f64 * (8.0 + 52.0 * r_duration.unit(r, 0));
                round2(base / (1.0 - 0.95 * r_duration.unit(r, 1)))
            };
            if self.defects.has(DefectKind::OutOfRange, row) {
                match self.defects.detail(DefectKind::OutOfRange, row, 2) {
                    0 => {
                        defects.push(record(row, DefectKind::OutOfRange, "session_duration", None));
                        secs = -secs - 1.0;
                    }
                    _ => {
                        defects.push(record(row, DefectKind::OutOfRange, "pages_viewed", None));
                        pv = 0;
                    }
                }
            }
            duration.push(secs);
            pages_viewed.push(pv);
            let mut bounced = pv == 1;
            if self.defects.has(DefectKind::InconsistentBounce, row) {
                defects.push(record(row, DefectKind::InconsistentBounce, "bounce", None));
                bounced = !bounced;
            }
            bounce.append_value(bounced);
            referrer.append_value(r_referrer.weighted(r, 0, vocab::REFERRER_DOMAINS));
        }
        let columns: Vec<ArrayRef> = vec![
            ids,
            Arc::new(contact.finish()),
            Arc::new(campaign.finish()),
            Arc::new(page.finish()),
            Arc::new(url.finish()),
            Arc::new(title.finish()),
            Arc::new(Date32Array::from(event_date)),
            Arc::new(event.finish()),
            Arc::new(Float64Array::from(duration)),
            Arc::new(Int64Array::from(pages_viewed)),
            Arc::new(bounce.finish()),
            Arc::new(referrer.finish()),
        ];
        (columns, sorted(defects))
    }
}

/// Rows to reserve builder space for: the range, but never more than a chunk (a caller
/// asking for a huge range grows the builders as rows arrive instead of reserving it all).
fn capacity(range: &Range<usize>) -> usize {
    range.len().min(super::CHUNK_ROWS)
}

fn strings<'a>(values: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    let mut b = StringBuilder::new();
    b.extend(values);
    Arc::new(b.finish())
}

#[inline]
fn uuid_str(bytes: &[u8; 36]) -> &str {
    // Only ASCII hex digits and dashes are ever written into the buffer.
    std::str::from_utf8(bytes).unwrap_or_default()
}

#[inline]
fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn record(row: usize, kind: DefectKind, column: &'static str, partner: Option<usize>) -> DefectRecord {
    DefectRecord { row: row as u64, kind, column, partner_row: partner.map(|p| p as u64) }
}

fn sorted(mut records: Vec<DefectRecord>) -> Vec<DefectRecord> {
    records.sort_by_key(|r| (r.row, r.kind));
    records
}
