//! The domains shipped in the package (`python/marketing_core/domains/<name>/`), compiled
//! in so that Rust, its tests and Python without PyYAML read the very same files.

use std::sync::LazyLock;

use serde_json::{json, Map, Value};

use super::{Domain, DomainError};

/// The domain the shipped datasets (`crate::datasets::Dataset`) belong to.
pub const SHIPPED_DOMAIN: &str = "marketing";

macro_rules! domain_file {
    ($domain:literal, $path:literal) => {
        ($path, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/python/marketing_core/domains/", $domain, "/", $path)))
    };
}

/// (path inside the domain folder, text) of every file of the marketing domain.
const MARKETING: &[(&str, &str)] = &[
    domain_file!("marketing", "domain.json"),
    domain_file!("marketing", "datasets/campaigns.json"),
    domain_file!("marketing", "datasets/forms.json"),
    domain_file!("marketing", "datasets/pages.json"),
    domain_file!("marketing", "datasets/contacts.json"),
    domain_file!("marketing", "datasets/form_fills.json"),
    domain_file!("marketing", "datasets/website_activity.json"),
];

static MARKETING_DOMAIN: LazyLock<Result<Domain, DomainError>> = LazyLock::new(|| load(SHIPPED_DOMAIN, MARKETING));

pub fn shipped_names() -> Vec<&'static str> {
    vec![SHIPPED_DOMAIN]
}

/// A shipped domain by name.
pub fn shipped(name: &str) -> Result<&'static Domain, DomainError> {
    match name {
        SHIPPED_DOMAIN => MARKETING_DOMAIN.as_ref().map_err(Clone::clone),
        _ => Err(DomainError::Unknown { name: name.to_string() }),
    }
}

fn load(name: &str, files: &[(&str, &str)]) -> Result<Domain, DomainError> {
    let root = format!("marketing_core/domains/{name}");
    let parse = |path: &str, text: &str| -> Result<Value, DomainError> {
        serde_json::from_str(text).map_err(|e| DomainError::Invalid {
            file: format!("{root}/{path}"),
            field: String::new(),
            message: format!("invalid JSON: {e}"),
        })
    };
    let mut domain = Value::Null;
    let mut datasets = Map::new();
    for (path, text) in files {
        let value = parse(path, text)?;
        match path.strip_prefix("datasets/").and_then(|p| p.strip_suffix(".json")) {
            Some(dataset) => {
                datasets.insert(dataset.to_string(), json!({"file": path, "spec": value}));
            }
            None => domain = value,
        }
    }
    let input = json!({"root": root, "domain_file": "domain.json", "domain": domain, "datasets": datasets});
    Domain::from_json(&input.to_string())
}
