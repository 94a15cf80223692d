//! The six marketing datasets: names, file names, formats, sizes and Arrow schemas.
//! One source of truth for what `../shared/spec/datasets.md` calls the contract.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Bad names or values given by a caller. Maps to `InvalidArgumentError` in Python.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ArgumentError {
    #[error("unknown dataset {name:?}; expected one of: {}", Dataset::names().join(", "))]
    UnknownDataset { name: String },
    #[error("unknown format {name:?}; expected one of: csv, json, parquet")]
    UnknownFormat { name: String },
    #[error("invalid ds {value:?}: expected an ISO date YYYY-MM-DD")]
    InvalidDs { value: String },
    #[error("scale_factor must be a finite number > 0, got {value}")]
    InvalidScale { value: f64 },
    #[error("{0}")]
    Other(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dataset {
    Campaigns,
    Forms,
    Pages,
    Contacts,
    FormFills,
    WebsiteActivity,
}

impl Dataset {
    /// All datasets in dependency order: dimensions, then contacts, then facts.
    pub const ALL: [Dataset; 6] = [
        Dataset::Campaigns,
        Dataset::Forms,
        Dataset::Pages,
        Dataset::Contacts,
        Dataset::FormFills,
        Dataset::WebsiteActivity,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Dataset::Campaigns => "campaigns",
            Dataset::Forms => "forms",
            Dataset::Pages => "pages",
            Dataset::Contacts => "contacts",
            Dataset::FormFills => "form_fills",
            Dataset::WebsiteActivity => "website_activity",
        }
    }

    pub fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|d| d.name()).collect()
    }

    /// Dimensions are fixed universes; the other datasets scale with `scale_factor`.
    pub fn is_dimension(self) -> bool {
        matches!(self, Dataset::Campaigns | Dataset::Forms | Dataset::Pages)
    }

    pub fn key_column(self) -> &'static str {
        match self {
            Dataset::Campaigns => "campaign_id",
            Dataset::Forms => "form_id",
            Dataset::Pages => "page_id",
            Dataset::Contacts => "contact_id",
            Dataset::FormFills => "fill_id",
            Dataset::WebsiteActivity => "session_id",
        }
    }

    /// Rows per day at scale 1.0 (the universe size for dimensions).
    pub fn base_rows(self) -> usize {
        match self {
            Dataset::Campaigns => 20,
            Dataset::Forms => 8,
            Dataset::Pages => 30,
            Dataset::Contacts => 100_000,
            Dataset::FormFills => 50_000,
            Dataset::WebsiteActivity => 500_000,
        }
    }

    /// Rows for one day at `scale_factor` (at least one row).
    pub fn rows(self, scale_factor: f64) -> usize {
        if self.is_dimension() {
            self.base_rows()
        } else {
            ((self.base_rows() as f64) * scale_factor).round().max(1.0) as usize
        }
    }

    pub fn default_format(self) -> FileFormat {
        match self {
            Dataset::Contacts => FileFormat::Csv,
            Dataset::FormFills => FileFormat::Parquet,
            _ => FileFormat::Json,
        }
    }

    /// `<dataset>_<ds>.<ext>`, the file name the bucket layout is derived from.
    pub fn file_name(self, ds: NaiveDate, format: FileFormat) -> String {
        crate::layout::data_file_name(self.name(), &ds.format("%Y-%m-%d").to_string(), format.extension())
    }

    pub fn schema(self) -> SchemaRef {
        use DataType::*;
        let s = |name: &str| Field::new(name, Utf8, true);
        let fields = match self {
            Dataset::Campaigns => vec![s("campaign_id"), s("campaign_name")],
            Dataset::Forms => vec![s("form_id"), s("form_type")],
            Dataset::Pages => vec![s("page_id"), s("page_url"), s("page_title")],
            Dataset::Contacts => vec![
                s("contact_id"),
                s("first_name"),
                s("last_name"),
                s("email"),
                s("company"),
                s("industry"),
                s("lead_source"),
                s("job_title"),
                s("country"),
                Field::new("opted_in", Boolean, true),
                Field::new("signup_date", Timestamp(TimeUnit::Microsecond, None), true),
            ],
            Dataset::FormFills => vec![
                s("fill_id"),
                s("form_id"),
                s("contact_id"),
                s("campaign_id"),
                Field::new("fill_date", Date32, true),
                s("referrer_url"),
                s("user_agent"),
                Field::new("estimated_value", Float64, true),
            ],
            Dataset::WebsiteActivity => vec![
                s("session_id"),
                s("contact_id"),
                s("campaign_id"),
                s("page_id"),
                s("page_url"),
                s("page_title"),
                Field::new("event_date", Date32, true),
                s("event_type"),
                Field::new("session_duration", Float64, true),
                Field::new("pages_viewed", Int64, true),
                Field::new("bounce", Boolean, true),
                s("referrer_domain"),
            ],
        };
        Arc::new(Schema::new(fields))
    }
}

impl fmt::Display for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Dataset {
    type Err = ArgumentError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| ArgumentError::UnknownDataset { name: s.to_string() })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    Csv,
    /// JSON Lines: one object per line, UTF-8.
    Json,
    Parquet,
}

impl FileFormat {
    pub fn extension(self) -> &'static str {
        match self {
            FileFormat::Csv => "csv",
            FileFormat::Json => "json",
            FileFormat::Parquet => "parquet",
        }
    }

    /// The format a file name's extension stands for.
    pub fn from_path(path: &std::path::Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(FileFormat::Csv),
            "json" | "jsonl" | "ndjson" => Some(FileFormat::Json),
            "parquet" | "pq" => Some(FileFormat::Parquet),
            _ => None,
        }
    }
}

impl fmt::Display for FileFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

impl FromStr for FileFormat {
    type Err = ArgumentError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Ok(FileFormat::Csv),
            "json" | "jsonl" | "ndjson" => Ok(FileFormat::Json),
            "parquet" => Ok(FileFormat::Parquet),
            _ => Err(ArgumentError::UnknownFormat { name: s.to_string() }),
        }
    }
}

/// Parses an ISO `YYYY-MM-DD` day.
pub fn parse_ds(value: &str) -> Result<NaiveDate, ArgumentError> {
    let invalid = || ArgumentError::InvalidDs { value: value.to_string() };
    if value.len() != 10 {
        return Err(invalid());
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| invalid())
}

pub fn check_scale(scale_factor: f64) -> Result<f64, ArgumentError> {
    if scale_factor.is_finite() && scale_factor > 0.0 {
        Ok(scale_factor)
    } else {
        Err(ArgumentError::InvalidScale { value: scale_factor })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_in_dependency_order() {
        for d in Dataset::ALL {
            assert_eq!(d.name().parse::<Dataset>().unwrap(), d);
        }
        assert_eq!(Dataset::ALL.iter().position(|d| *d == Dataset::Contacts), Some(3));
        let err = "leads".parse::<Dataset>().unwrap_err().to_string();
        assert!(err.contains("\"leads\"") && err.contains("website_activity"), "{err}");
    }

    #[test]
    fn rows_scale_for_facts_only() {
        assert_eq!(Dataset::Contacts.rows(1.0), 100_000);
        assert_eq!(Dataset::WebsiteActivity.rows(0.01), 5_000);
        assert_eq!(Dataset::FormFills.rows(0.000001), 1);
        assert_eq!(Dataset::Campaigns.rows(20.0), 20);
    }

    #[test]
    fn ds_and_scale_are_checked() {
        assert!(parse_ds("2025-05-25").is_ok());
        for bad in ["2025-5-25", "2025-02-30", "yesterday", ""] {
            assert!(matches!(parse_ds(bad), Err(ArgumentError::InvalidDs { .. })), "{bad}");
        }
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(check_scale(bad).is_err());
        }
    }

    #[test]
    fn file_names_follow_the_layout() {
        let ds = parse_ds("2025-05-25").unwrap();
        assert_eq!(
            Dataset::FormFills.file_name(ds, FileFormat::Parquet),
            "form_fills_2025-05-25.parquet"
        );
        assert_eq!(Dataset::Contacts.default_format(), FileFormat::Csv);
    }
}
