//! Data contracts: one declarative description per dataset of its columns, types and rules.
//!
//! Contracts are JSON documents. The shipped ones are derived from the marketing domain
//! (`crate::domain`); a user's contract file may be YAML, which the Python layer hands
//! over as JSON.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use serde::{Deserialize, Serialize};

use super::patterns::Pattern;
use super::rule::RowRule;
use super::ValidateError;
use crate::datasets::Dataset;
use crate::domain::{shipped, SHIPPED_DOMAIN};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    String,
    Int64,
    Float64,
    Bool,
    Date,
    Timestamp,
}

impl ColumnType {
    pub const ALL: [ColumnType; 6] = [
        ColumnType::String,
        ColumnType::Int64,
        ColumnType::Float64,
        ColumnType::Bool,
        ColumnType::Date,
        ColumnType::Timestamp,
    ];

    pub fn data_type(self) -> DataType {
        match self {
            ColumnType::String => DataType::Utf8,
            ColumnType::Int64 => DataType::Int64,
            ColumnType::Float64 => DataType::Float64,
            ColumnType::Bool => DataType::Boolean,
            ColumnType::Date => DataType::Date32,
            ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ColumnType::String => "string",
            ColumnType::Int64 => "int64",
            ColumnType::Float64 => "float64",
            ColumnType::Bool => "bool",
            ColumnType::Date => "date",
            ColumnType::Timestamp => "timestamp",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// A failing row is quarantined.
    #[default]
    Error,
    /// Reported only; the row stays valid.
    Warn,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warn => "warn",
        }
    }
}

fn yes() -> bool {
    true
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The largest contract text accepted (a real contract is a few kilobytes).
pub const MAX_CONTRACT_BYTES: usize = 1024 * 1024;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForeignKey {
    /// The referenced dataset (its file of the same day, or a table passed in).
    pub dataset: String,
    /// The referenced column; defaults to the referenced dataset's key column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
}

impl ForeignKey {
    pub fn column(&self) -> String {
        self.column.clone().unwrap_or_else(|| {
            self.dataset.parse::<Dataset>().map(|d| d.key_column().to_string()).unwrap_or_else(|_| "id".into())
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub column_type: ColumnType,
    /// Non-null; every column is required unless the contract says otherwise.
    #[serde(default = "yes")]
    pub required: bool,
    #[serde(default)]
    pub unique: bool,
    /// A built-in pattern name (`email`, `uuid`, `url`) or a regular expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_values: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreign_key: Option<ForeignKey>,
    /// Personal data (names, emails): its values are masked in every sample that leaves
    /// the file (report, metadata, alerts); the quarantine file keeps them.
    #[serde(default, skip_serializing_if = "is_false")]
    pub pii: bool,
    /// Applies to every check of this column.
    #[serde(default)]
    pub severity: Severity,
    /// The check fails only when more than this fraction of rows fail it (rows failing an
    /// `error` check are quarantined either way).
    #[serde(default)]
    pub tolerance: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub name: String,
    /// e.g. `bounce = (pages_viewed = 1)`; see `rule.rs` for the grammar.
    pub rule: String,
    #[serde(default)]
    pub severity: Severity,
    #[serde(default)]
    pub tolerance: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Freshness {
    /// A date or timestamp column whose day must be the file's `ds`...
    pub column: String,
    /// ... or at most this many days earlier.
    #[serde(default)]
    pub max_days_late: i64,
    #[serde(default)]
    pub severity: Severity,
    #[serde(default)]
    pub tolerance: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowCount {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
    /// Largest allowed relative change against the previous day's row count (0.5 = ±50%).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_change: Option<f64>,
    #[serde(default)]
    pub severity: Severity,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    pub dataset: String,
    #[serde(default = "one")]
    pub version: u32,
    pub columns: Vec<ColumnSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RuleSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freshness: Option<Freshness>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_count: Option<RowCount>,
    /// Columns in the input but not in the contract: `warn` (reported, dropped from the
    /// valid file) or `error` (every row invalid).
    #[serde(default = "warn")]
    pub extra_columns: Severity,
}

fn one() -> u32 {
    1
}

fn warn() -> Severity {
    Severity::Warn
}

impl Contract {
    /// The shipped contract of a dataset: derived from the marketing domain.
    pub fn default_for(dataset: Dataset) -> Result<Contract, ValidateError> {
        let domain = shipped(SHIPPED_DOMAIN).map_err(|e| ValidateError::Internal(format!("shipped domain: {e}")))?;
        domain
            .dataset(dataset.name())
            .map(|d| d.contract.clone())
            .ok_or_else(|| ValidateError::Internal(format!("the shipped domain has no dataset {dataset}")))
    }

    /// Parses and checks a contract: unknown fields, duplicate columns, bad patterns,
    /// rules naming unknown columns are all `ContractError`s.
    pub fn from_json(text: &str) -> Result<Contract, ValidateError> {
        if text.len() > MAX_CONTRACT_BYTES {
            return Err(ValidateError::Contract(format!(
                "invalid contract: {} bytes, more than the limit of {MAX_CONTRACT_BYTES}",
                text.len()
            )));
        }
        let contract: Contract = serde_json::from_str(text)
            .map_err(|e| ValidateError::Contract(format!("invalid contract: {e}")))?;
        contract.check()?;
        Ok(contract)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn schema(&self) -> SchemaRef {
        let fields: Vec<Field> =
            self.columns.iter().map(|c| Field::new(&c.name, c.column_type.data_type(), true)).collect();
        Arc::new(Schema::new(fields))
    }

    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// Checks the contract; a foreign key to another dataset is checked against the shipped
    /// datasets' columns.
    pub fn check(&self) -> Result<(), ValidateError> {
        self.check_in(&shipped_columns)
    }

    /// Checks the contract; `known` gives the columns of the datasets a foreign key may
    /// reference (those of its domain).
    pub fn check_in(&self, known: &dyn Fn(&str) -> Option<Vec<String>>) -> Result<(), ValidateError> {
        let bad = |m: String| Err(ValidateError::Contract(format!("contract {:?}: {m}", self.dataset)));
        if self.columns.is_empty() {
            return bad("no columns".into());
        }
        for (i, c) in self.columns.iter().enumerate() {
            if c.name.is_empty() || c.name.starts_with('_') {
                return bad(format!("column name {:?} must be non-empty and not start with '_'", c.name));
            }
            if self.columns[..i].iter().any(|o| o.name == c.name) {
                return bad(format!("column {:?} declared twice", c.name));
            }
            if let Some(p) = &c.pattern {
                if c.column_type != ColumnType::String {
                    return bad(format!("column {:?}: pattern needs a string column", c.name));
                }
                Pattern::compile(p).map_err(|e| ValidateError::Contract(format!("contract {:?}, column {:?}: {e}", self.dataset, c.name)))?;
            }
            if c.accepted_values.is_some() && c.column_type != ColumnType::String {
                return bad(format!("column {:?}: accepted_values needs a string column", c.name));
            }
            if (c.min.is_some() || c.max.is_some())
                && !matches!(c.column_type, ColumnType::Int64 | ColumnType::Float64)
            {
                return bad(format!("column {:?}: min/max need a numeric column", c.name));
            }
            if let (Some(min), Some(max)) = (c.min, c.max) {
                if min > max {
                    return bad(format!("column {:?}: min {min} is greater than max {max}", c.name));
                }
            }
            if let Some(fk) = &c.foreign_key {
                if c.column_type != ColumnType::String {
                    return bad(format!("column {:?}: foreign_key needs a string column", c.name));
                }
                self.check_foreign_key(&c.name, fk, known)?;
            }
            if !(0.0..=1.0).contains(&c.tolerance) {
                return bad(format!("column {:?}: tolerance must be in [0, 1]", c.name));
            }
        }
        if let Some(rc) = &self.row_count {
            if let (Some(min), Some(max)) = (rc.min, rc.max) {
                if min > max {
                    return bad(format!("row_count: min {min} is greater than max {max}"));
                }
            }
            if matches!(rc.max_change, Some(m) if !(m >= 0.0)) {
                return bad("row_count: max_change must be 0 or more".into());
            }
        }
        for (what, t) in self.rules.iter().map(|r| (format!("rule {:?}", r.name), r.tolerance))
            .chain(self.freshness.iter().map(|f| ("freshness".to_string(), f.tolerance)))
        {
            if !(0.0..=1.0).contains(&t) {
                return bad(format!("{what}: tolerance must be in [0, 1]"));
            }
        }
        for r in &self.rules {
            RowRule::parse(&r.rule, self).map_err(|e| {
                ValidateError::Contract(format!("contract {:?}, rule {:?}: {e}", self.dataset, r.name))
            })?;
            if self.rules.iter().filter(|o| o.name == r.name).count() > 1 {
                return bad(format!("rule {:?} declared twice", r.name));
            }
        }
        if let Some(f) = &self.freshness {
            if f.max_days_late < 0 {
                return bad(format!("freshness: max_days_late must be 0 or more, got {}", f.max_days_late));
            }
            match self.column_index(&f.column).map(|i| self.columns[i].column_type) {
                Some(ColumnType::Date | ColumnType::Timestamp) => {}
                Some(_) => return bad(format!("freshness column {:?} must be a date or timestamp", f.column)),
                None => return bad(format!("freshness column {:?} is not a column", f.column)),
            }
        }
        Ok(())
    }

    /// The referenced column must be in the referenced dataset: this one (a self-reference)
    /// or one `known` knows. A dataset that is neither is only known when its reference
    /// data arrives (a missing column then makes the check `error`), so it must name its
    /// column rather than guess one.
    fn check_foreign_key(
        &self,
        column: &str,
        fk: &ForeignKey,
        known: &dyn Fn(&str) -> Option<Vec<String>>,
    ) -> Result<(), ValidateError> {
        let bad = |m: String| {
            Err(ValidateError::Contract(format!("contract {:?}, column {column:?}: foreign_key {m}", self.dataset)))
        };
        let columns: Vec<String> = if fk.dataset == self.dataset {
            self.columns.iter().map(|c| c.name.clone()).collect()
        } else if let Some(columns) = known(&fk.dataset) {
            columns
        } else {
            if fk.column.is_none() {
                let known: Vec<&str> = Dataset::ALL.iter().map(|d| d.name()).collect();
                return bad(format!(
                    "to {:?}: not a known dataset ({}); give the referenced column (\"column\")",
                    fk.dataset,
                    known.join(", ")
                ));
            }
            return Ok(());
        };
        let target = fk.column();
        if !columns.contains(&target) {
            return bad(format!("to {}.{target}: the {:?} contract has no column {target:?}", fk.dataset, fk.dataset));
        }
        Ok(())
    }
}

/// The columns of a dataset of the shipped domain.
fn shipped_columns(dataset: &str) -> Option<Vec<String>> {
    let domain = shipped(SHIPPED_DOMAIN).ok()?;
    Some(domain.dataset(dataset)?.column_names().into_iter().map(String::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_contracts_equal_the_dataset_schemas() {
        for d in Dataset::ALL {
            let c = Contract::default_for(d).unwrap();
            assert_eq!(c.dataset, d.name());
            assert_eq!(c.schema(), d.schema(), "{d}");
            let key = &c.columns[c.column_index(d.key_column()).unwrap()];
            assert!(key.unique && key.required, "{d}: key must be unique and required");
        }
    }

    #[test]
    fn bad_contracts_are_contract_errors() {
        let cases = [
            (r#"{"dataset":"x","columns":[]}"#, "no columns"),
            (r#"{"dataset":"x","columns":[{"name":"a","type":"text"}]}"#, "unknown variant"),
            (r#"{"dataset":"x","columns":[{"name":"a","type":"string","colour":1}]}"#, "unknown field"),
            (r#"{"dataset":"x","columns":[{"name":"a","type":"string"},{"name":"a","type":"int64"}]}"#, "twice"),
            (r#"{"dataset":"x","columns":[{"name":"a","type":"string","pattern":"(["}]}"#, "regex"),
            (r#"{"dataset":"x","columns":[{"name":"a","type":"string","min":1}]}"#, "numeric"),
            (r#"{"dataset":"x","columns":[{"name":"a","type":"bool"}],"rules":[{"name":"r","rule":"b = 1"}]}"#, "unknown column"),
            (r#"{"dataset":"x","columns":[{"name":"a","type":"string"}],"freshness":{"column":"a"}}"#, "date or timestamp"),
            (r#"{"dataset":"x","columns":[{"name":"a","type":"int64","min":5,"max":1}]}"#, "min 5 is greater than max 1"),
            (r#"{"dataset":"x","columns":[{"name":"a","type":"int64"}],"row_count":{"min":9,"max":2}}"#, "row_count: min 9"),
            (r#"{"dataset":"x","columns":[{"name":"a","type":"string","foreign_key":{"dataset":"contacts","column":"mail"}}]}"#,
             "the \"contacts\" contract has no column \"mail\""),
            (r#"{"dataset":"x","columns":[{"name":"a","type":"string","foreign_key":{"dataset":"x","column":"b"}}]}"#,
             "has no column \"b\""),
            (r#"{"dataset":"x","columns":[{"name":"a","type":"string","foreign_key":{"dataset":"contatcs"}}]}"#,
             "not a known dataset"),
            (r#"{"dataset":"x","columns":[{"name":"a","type":"string"}],"rules":[{"name":"r","rule":"a = 1"}]}"#, "cannot compare"),
            (r#"{"dataset":"x","columns":[{"name":"a","type":"date"}],"freshness":{"column":"a","max_days_late":-1}}"#, "max_days_late"),
        ];
        for (text, expected) in cases {
            let err = Contract::from_json(text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text}: {err}");
        }
        // A foreign key to a shipped dataset's key (named or by default), or to a user
        // dataset with its column named, is fine.
        for fk in [r#"{"dataset":"contacts"}"#, r#"{"dataset":"contacts","column":"email"}"#, r#"{"dataset":"crm","column":"id"}"#] {
            let text = format!(r#"{{"dataset":"x","columns":[{{"name":"a","type":"string","foreign_key":{fk}}}]}}"#);
            Contract::from_json(&text).unwrap_or_else(|e| panic!("{fk}: {e}"));
        }
        let huge = format!(r#"{{"dataset":"x","columns":[{{"name":"a","type":"string"}}],"pad":"{}"}}"#, " ".repeat(MAX_CONTRACT_BYTES));
        assert!(Contract::from_json(&huge).unwrap_err().to_string().contains("more than the limit"));
    }
}
