//! Data contracts: one declarative description per dataset of its columns, types and rules.
//!
//! Contracts are JSON documents (the shipped defaults live in
//! `python/marketing_core/contracts/<dataset>.json` and are compiled in with `include_str!`,
//! so Rust and Python read the very same files). The Python layer also accepts YAML and
//! hands it over as JSON.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use serde::{Deserialize, Serialize};

use super::patterns::Pattern;
use super::rule::RowRule;
use super::ValidateError;
use crate::datasets::Dataset;

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

macro_rules! shipped {
    ($name:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/python/marketing_core/contracts/", $name, ".json"))
    };
}

/// The JSON text of the shipped default contract of a dataset.
pub fn default_contract_json(dataset: Dataset) -> &'static str {
    match dataset {
        Dataset::Campaigns => shipped!("campaigns"),
        Dataset::Forms => shipped!("forms"),
        Dataset::Pages => shipped!("pages"),
        Dataset::Contacts => shipped!("contacts"),
        Dataset::FormFills => shipped!("form_fills"),
        Dataset::WebsiteActivity => shipped!("website_activity"),
    }
}

impl Contract {
    pub fn default_for(dataset: Dataset) -> Result<Contract, ValidateError> {
        Contract::from_json(default_contract_json(dataset))
    }

    /// Parses and checks a contract: unknown fields, duplicate columns, bad patterns,
    /// rules naming unknown columns are all `ContractError`s.
    pub fn from_json(text: &str) -> Result<Contract, ValidateError> {
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

    pub fn check(&self) -> Result<(), ValidateError> {
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
            if c.foreign_key.is_some() && c.column_type != ColumnType::String {
                return bad(format!("column {:?}: foreign_key needs a string column", c.name));
            }
            if !(0.0..=1.0).contains(&c.tolerance) {
                return bad(format!("column {:?}: tolerance must be in [0, 1]", c.name));
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
            match self.column_index(&f.column).map(|i| self.columns[i].column_type) {
                Some(ColumnType::Date | ColumnType::Timestamp) => {}
                Some(_) => return bad(format!("freshness column {:?} must be a date or timestamp", f.column)),
                None => return bad(format!("freshness column {:?} is not a column", f.column)),
            }
        }
        Ok(())
    }
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
        ];
        for (text, expected) in cases {
            let err = Contract::from_json(text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }
}
