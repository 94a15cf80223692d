//! A column's `generator` block: how a synthetic value of the column is made. Parsed and
//! judged here (does it fit the column's type, do the columns and word lists it names
//! exist); the engine that runs it lives in `crate::generate`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::generate::vocab;
use crate::validate::{ColumnSpec, ColumnType};

use super::{RowBasis, Rows};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pick {
    /// The row's own entry (row i takes entry i): fixed universes.
    Row,
    Uniform,
    /// By the word list's weights.
    Weighted,
    /// The hot 20% / warm 30% / cold rest of the referenced rows, with the shares in `skew`.
    Skewed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distribution {
    Uniform,
    /// Skewed low: min + (max - min) * u³.
    Cubic,
    /// `min`, then one more with probability `continue_share` each step, up to `max`.
    Geometric,
    /// Heavy-tailed, per unit of the `per` column.
    LongTail,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeOfDay {
    Uniform,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Generator {
    Sequence {
        prefix: String,
        width: u32,
    },
    Uuid {},
    Vocabulary {
        vocabulary: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        field: Option<String>,
        pick: Pick,
    },
    Reference {
        pick: Pick,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        skew: Option<Vec<f64>>,
        #[serde(default)]
        clean_rows_only: bool,
    },
    Lookup {
        via: String,
        column: String,
    },
    Email {
        first: String,
        last: String,
        company: String,
        company_domain_share: f64,
        free_domains: String,
    },
    Day {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        time: Option<TimeOfDay>,
    },
    Bernoulli {
        p: f64,
    },
    Derived {
        rule: String,
    },
    Number {
        distribution: Distribution,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        decimals: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        per: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        first_share: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        continue_share: Option<f64>,
    },
}

/// A column's generator and the share of its values made null.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnGenerator {
    pub generator: Generator,
    pub null_rate: f64,
}

/// A built-in word list a `vocabulary` generator can name.
struct WordList {
    name: &'static str,
    /// The parts of a list of pairs, e.g. a page's `url` and `title`.
    fields: &'static [&'static str],
    weighted: bool,
    len: usize,
}

fn word_lists() -> [WordList; 15] {
    let plain = |name, len| WordList { name, fields: &[], weighted: false, len };
    let weighted = |name, len| WordList { name, fields: &[], weighted: true, len };
    [
        plain("first_names", vocab::FIRST_NAMES.len()),
        plain("last_names", vocab::LAST_NAMES.len()),
        WordList { name: "companies", fields: &["name", "domain"], weighted: false, len: vocab::COMPANIES.len() },
        plain("free_email_domains", vocab::FREE_EMAIL_DOMAINS.len()),
        weighted("industries", vocab::INDUSTRIES.len()),
        weighted("lead_sources", vocab::LEAD_SOURCES.len()),
        plain("job_titles", vocab::JOB_TITLES.len()),
        weighted("countries", vocab::COUNTRIES.len()),
        plain("campaign_names", vocab::CAMPAIGN_NAMES.len()),
        plain("form_types", vocab::FORM_TYPES.len()),
        WordList { name: "pages", fields: &["url", "title"], weighted: false, len: vocab::PAGES.len() },
        plain("referrer_urls", vocab::REFERRER_URLS.len()),
        weighted("referrer_domains", vocab::REFERRER_DOMAINS.len()),
        plain("user_agents", vocab::USER_AGENTS.len()),
        weighted("event_types", vocab::EVENT_TYPES.len()),
    ]
}

/// What a generator's check needs to know besides the generator: the column it fills,
/// the other columns of its dataset, and the columns of the dataset a column references.
pub struct Scope<'a> {
    pub column: &'a ColumnSpec,
    pub columns: &'a [ColumnSpec],
    pub rows: &'a Rows,
    /// The columns of another dataset of the domain.
    pub dataset_columns: &'a dyn Fn(&str) -> Option<&'a [ColumnSpec]>,
    /// The referenced column's spec for a column with a foreign key (resolved by the domain).
    pub referenced: &'a dyn Fn(&ColumnSpec) -> Option<&'a ColumnSpec>,
}

/// A generator's error: the field under `generator` (empty for the block) and the message.
pub type GeneratorError = (String, String);

fn at(field: &str, message: String) -> GeneratorError {
    (field.to_string(), message)
}

impl ColumnGenerator {
    /// Parses a `generator` block (`null_rate` is common to every kind).
    pub fn parse(value: &Value) -> Result<ColumnGenerator, GeneratorError> {
        let Value::Object(map) = value else {
            return Err(at("", "a generator must be a mapping with a \"kind\"".into()));
        };
        let mut map = map.clone();
        let null_rate = match map.remove("null_rate") {
            None => 0.0,
            Some(v) => match v.as_f64() {
                Some(r) if (0.0..=1.0).contains(&r) => r,
                _ => return Err(at("null_rate", format!("must be a number in [0, 1], got {v}"))),
            },
        };
        let generator: Generator = serde_json::from_value(Value::Object(map)).map_err(|e| at("", e.to_string()))?;
        Ok(ColumnGenerator { generator, null_rate })
    }

    pub fn kind(&self) -> &'static str {
        match self.generator {
            Generator::Sequence { .. } => "sequence",
            Generator::Uuid {} => "uuid",
            Generator::Vocabulary { .. } => "vocabulary",
            Generator::Reference { .. } => "reference",
            Generator::Lookup { .. } => "lookup",
            Generator::Email { .. } => "email",
            Generator::Day { .. } => "day",
            Generator::Bernoulli { .. } => "bernoulli",
            Generator::Derived { .. } => "derived",
            Generator::Number { .. } => "number",
        }
    }

    /// Whether the generator fits its column: the type it makes, the columns, datasets and
    /// word lists it names, and its numbers.
    pub fn check(&self, scope: &Scope<'_>) -> Result<(), GeneratorError> {
        let column_type = scope.column.column_type;
        let makes = |types: &[ColumnType]| -> Result<(), GeneratorError> {
            if types.contains(&column_type) {
                return Ok(());
            }
            let names: Vec<&str> = types.iter().map(|t| t.name()).collect();
            Err(at(
                "kind",
                format!(
                    "a {:?} generator makes {} values; column {:?} is {}",
                    self.kind(),
                    names.join(" or "),
                    scope.column.name,
                    column_type.name()
                ),
            ))
        };
        let own_column = |field: &str, name: &str| -> Result<&ColumnSpec, GeneratorError> {
            scope.columns.iter().find(|c| c.name == name).ok_or_else(|| {
                at(field, format!("{name:?} is not a column of this dataset"))
            })
        };
        let share = |field: &str, value: f64| -> Result<(), GeneratorError> {
            if (0.0..=1.0).contains(&value) {
                Ok(())
            } else {
                Err(at(field, format!("must be in [0, 1], got {value}")))
            }
        };
        match &self.generator {
            Generator::Sequence { width, .. } => {
                makes(&[ColumnType::String])?;
                if !(1..=20).contains(width) {
                    return Err(at("width", format!("must be 1 to 20, got {width}")));
                }
            }
            Generator::Uuid {} => makes(&[ColumnType::String])?,
            Generator::Vocabulary { vocabulary, field, pick } => {
                makes(&[ColumnType::String])?;
                let lists = word_lists();
                let Some(list) = lists.iter().find(|l| l.name == vocabulary) else {
                    let known: Vec<&str> = lists.iter().map(|l| l.name).collect();
                    return Err(at(
                        "vocabulary",
                        format!("unknown vocabulary {vocabulary:?}; expected one of: {}", known.join(", ")),
                    ));
                };
                match (field, list.fields.is_empty()) {
                    (None, false) => {
                        return Err(at("field", format!("{vocabulary:?} holds pairs: give one of {}", list.fields.join(", "))))
                    }
                    (Some(f), false) if !list.fields.contains(&f.as_str()) => {
                        return Err(at("field", format!("{vocabulary:?} has no field {f:?}; expected one of {}", list.fields.join(", "))))
                    }
                    (Some(f), true) => return Err(at("field", format!("{vocabulary:?} is a plain list; it has no field {f:?}"))),
                    _ => {}
                }
                match pick {
                    Pick::Weighted if !list.weighted => {
                        return Err(at("pick", format!("{vocabulary:?} has no weights; pick row or uniform")))
                    }
                    Pick::Skewed => return Err(at("pick", "skewed picks referenced rows; a vocabulary picks row, uniform or weighted".into())),
                    Pick::Row => {
                        if scope.rows.basis != RowBasis::Fixed || scope.rows.base as usize > list.len {
                            return Err(at(
                                "pick",
                                format!(
                                    "pick row needs a fixed universe of at most the {} entries of {vocabulary:?}",
                                    list.len
                                ),
                            ));
                        }
                    }
                    _ => {}
                }
            }
            Generator::Reference { pick, skew, .. } => {
                let Some(referenced) = (scope.referenced)(scope.column) else {
                    return Err(at("kind", format!("a \"reference\" generator needs a foreign_key on column {:?}", scope.column.name)));
                };
                makes(&[referenced.column_type])?;
                match (pick, skew) {
                    (Pick::Skewed, Some(s)) => {
                        if s.len() != 3 || s.iter().any(|x| !(0.0..=1.0).contains(x)) || (s.iter().sum::<f64>() - 1.0).abs() > 1e-9 {
                            return Err(at("skew", format!("must be three shares (hot, warm, cold) that sum to 1, got {s:?}")));
                        }
                    }
                    (Pick::Skewed, None) => return Err(at("skew", "pick skewed needs its shares, e.g. [0.7, 0.2, 0.1]".into())),
                    (Pick::Uniform, None) => {}
                    (Pick::Uniform, Some(_)) => return Err(at("skew", "only pick skewed has shares".into())),
                    _ => return Err(at("pick", "a reference picks uniform or skewed".into())),
                }
            }
            Generator::Lookup { via, column } => {
                let via_spec = own_column("via", via)?;
                if via_spec.foreign_key.is_none() {
                    return Err(at("via", format!("column {via:?} has no foreign_key to look {column:?} up through")));
                }
                let fk = via_spec.foreign_key.as_ref().map(|f| f.dataset.clone()).unwrap_or_default();
                let target = (scope.dataset_columns)(&fk)
                    .and_then(|cols| cols.iter().find(|c| &c.name == column))
                    .ok_or_else(|| at("column", format!("dataset {fk:?} has no column {column:?}")))?;
                makes(&[target.column_type])?;
            }
            Generator::Email { first, last, company, company_domain_share, free_domains } => {
                makes(&[ColumnType::String])?;
                for (field, name) in [("first", first), ("last", last), ("company", company)] {
                    own_column(field, name)?;
                }
                share("company_domain_share", *company_domain_share)?;
                if !word_lists().iter().any(|l| l.name == free_domains && l.fields.is_empty()) {
                    return Err(at("free_domains", format!("unknown vocabulary {free_domains:?}")));
                }
            }
            Generator::Day { time } => {
                match time {
                    None => makes(&[ColumnType::Date, ColumnType::Timestamp])?,
                    Some(_) => makes(&[ColumnType::Timestamp])?,
                }
            }
            Generator::Bernoulli { p } => {
                makes(&[ColumnType::Bool])?;
                share("p", *p)?;
            }
            Generator::Derived { .. } => makes(&[ColumnType::Bool])?,
            Generator::Number { distribution, min, max, decimals, per, first_share, continue_share } => {
                match distribution {
                    Distribution::Geometric => makes(&[ColumnType::Int64])?,
                    _ => makes(&[ColumnType::Int64, ColumnType::Float64])?,
                }
                if decimals.is_some() && column_type != ColumnType::Float64 {
                    return Err(at("decimals", "only a float64 column has decimals".into()));
                }
                let (lo, hi) = (min.or(scope.column.min), max.or(scope.column.max));
                if let (Some(lo), Some(hi)) = (lo, hi) {
                    if lo > hi {
                        return Err(at("min", format!("min {lo} is greater than max {hi}")));
                    }
                }
                if matches!(distribution, Distribution::Uniform | Distribution::Cubic) && (lo.is_none() || hi.is_none()) {
                    return Err(at("max", "a uniform or cubic number needs min and max (here or on the column)".into()));
                }
                if let Some(per) = per {
                    let spec = own_column("per", per)?;
                    if !matches!(spec.column_type, ColumnType::Int64 | ColumnType::Float64) || spec.name == scope.column.name {
                        return Err(at("per", format!("{per:?} must be another numeric column")));
                    }
                }
                for (field, value) in [("first_share", first_share), ("continue_share", continue_share)] {
                    if let Some(v) = value {
                        if *distribution != Distribution::Geometric {
                            return Err(at(field, "only a geometric number has shares".into()));
                        }
                        share(field, *v)?;
                    }
                }
            }
        }
        Ok(())
    }
}
