//! Domains: a folder that describes a set of datasets once (`domain.yaml|json` plus one
//! `datasets/<name>.yaml|json` each). The contracts are derived from it; later the
//! generator, the loaders and the DAG are too.
//!
//! The files arrive as JSON values (Python reads YAML with its bounded loader and hands
//! the documents over; the shipped domains are compiled in, see `shipped.rs`). Every
//! error names the file and the field path inside it.

mod generator;
mod shipped;

use std::collections::{BTreeMap, BTreeSet};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use thiserror::Error;

use crate::datasets::FileFormat;
use crate::generate::DefectKind;
use crate::validate::contract::{ForeignKey, Freshness, RowCount, RuleSpec};
use crate::validate::rule::RowRule;
use crate::validate::{ColumnSpec, ColumnType, Contract, Severity};

pub use generator::{ColumnGenerator, Distribution, Generator, Pick, TimeOfDay};
pub use shipped::{shipped, shipped_names, SHIPPED_DOMAIN};

#[derive(Debug, Error, Clone, PartialEq)]
pub enum DomainError {
    /// A domain file that cannot be used: `file: field: message`.
    #[error("{}", locate(file, field, message))]
    Invalid { file: String, field: String, message: String },
    #[error("unknown domain {name:?}: not a folder with a domain.yaml or domain.json, nor a shipped domain ({})", shipped_names().join(", "))]
    Unknown { name: String },
}

fn locate(file: &str, field: &str, message: &str) -> String {
    if field.is_empty() {
        format!("{file}: {message}")
    } else {
        format!("{file}: {field}: {message}")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Synthetic data made from the columns' generators.
    Generate,
    /// Files arrive in a landing directory or prefix.
    Landing,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Partitioning {
    /// One file per dataset per `ds=` day.
    Daily,
    /// One file per dataset per hour of the day.
    Hourly,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowBasis {
    /// A universe of `base` rows, whatever the scale.
    Fixed,
    /// `base` rows per day at scale 1.0.
    Scaled,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rows {
    pub basis: RowBasis,
    pub base: u64,
}

impl Rows {
    /// Rows for one day at `scale_factor` (at least one row).
    pub fn at_scale(&self, scale_factor: f64) -> usize {
        match self.basis {
            RowBasis::Fixed => self.base as usize,
            RowBasis::Scaled => ((self.base as f64) * scale_factor).round().max(1.0) as usize,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct DomainColumn {
    pub spec: ColumnSpec,
    pub generator: Option<ColumnGenerator>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DomainDataset {
    pub name: String,
    pub description: String,
    /// The spec file this dataset was read from (for messages).
    pub spec_file: String,
    /// `<file_stem>_<ds>.<ext>`.
    pub file_stem: String,
    pub format: FileFormat,
    pub key: String,
    pub rows: Rows,
    /// Every dataset this one needs first (explicit `depends_on` and foreign keys), in
    /// the domain's order.
    pub depends_on: Vec<String>,
    pub columns: Vec<DomainColumn>,
    pub defects: Vec<DefectKind>,
    pub contract: Contract,
}

impl DomainDataset {
    pub fn column_names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.spec.name.as_str()).collect()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Domain {
    pub name: String,
    pub description: String,
    pub source: Source,
    pub partitioning: Partitioning,
    /// The folder the domain was read from.
    pub root: String,
    /// In dependency order: a dataset comes after every dataset it depends on.
    pub datasets: Vec<DomainDataset>,
}

impl Domain {
    pub fn dataset(&self, name: &str) -> Option<&DomainDataset> {
        self.datasets.iter().find(|d| d.name == name)
    }

    pub fn dataset_names(&self) -> Vec<&str> {
        self.datasets.iter().map(|d| d.name.as_str()).collect()
    }

    /// Loads a domain from its documents: `{"root", "domain_file", "domain",
    /// "datasets": {name: {"file", "spec"}}}` (file paths relative to `root`).
    pub fn from_json(text: &str) -> Result<Domain, DomainError> {
        let input: DomainInput = serde_json::from_str(text).map_err(|e| DomainError::Invalid {
            file: "<domain input>".into(),
            field: String::new(),
            message: e.to_string(),
        })?;
        Domain::load(&input)
    }

    fn load(input: &DomainInput) -> Result<Domain, DomainError> {
        let file = join(&input.root, &input.domain_file);
        let at = Located { file: &file };
        let head = at.object(&input.domain, "", &["$schema", "name", "description", "source", "partitioning", "datasets"])?;
        let name: String = at.required(head, "", "name")?;
        if !is_identifier(&name) {
            return Err(at.err("name", format!("{name:?} must be lower case letters, digits and _ (starting with a letter)")));
        }
        let description: String = at.optional(head, "", "description")?.unwrap_or_default();
        let source: Source = at.required(head, "", "source")?;
        let partitioning: Partitioning = at.required(head, "", "partitioning")?;
        let listed: Vec<String> = at.required(head, "", "datasets")?;
        if listed.is_empty() {
            return Err(at.err("datasets", "a domain needs at least one dataset".into()));
        }
        for (i, d) in listed.iter().enumerate() {
            if !is_identifier(d) {
                return Err(at.err(&format!("datasets[{i}]"), format!("{d:?} must be lower case letters, digits and _")));
            }
            if listed[..i].contains(d) {
                return Err(at.err(&format!("datasets[{i}]"), format!("dataset {d:?} listed twice")));
            }
            if !input.datasets.contains_key(d) {
                return Err(at.err(
                    &format!("datasets[{i}]"),
                    format!("no file for dataset {d:?} (expected datasets/{d}.yaml or datasets/{d}.json)"),
                ));
            }
        }
        if let Some((extra, source)) = input.datasets.iter().find(|(n, _)| !listed.contains(n)) {
            return Err(DomainError::Invalid {
                file: join(&input.root, &source.file),
                field: String::new(),
                message: format!("dataset {extra:?} is not listed in {}'s datasets", input.domain_file),
            });
        }
        let mut parsed: Vec<Parsed> = Vec::with_capacity(listed.len());
        for d in &listed {
            let source = &input.datasets[d];
            parsed.push(Parsed::read(d, &join(&input.root, &source.file), &source.spec)?);
        }
        resolve(&mut parsed);
        let order = dependency_order(&parsed)?;
        let mut stems: BTreeMap<&str, &str> = BTreeMap::new();
        for p in &parsed {
            if let Some(other) = stems.insert(&p.file_stem, &p.name) {
                return Err(p.at().err("file.stem", format!("file stem {:?} is also dataset {other:?}'s", p.file_stem)));
            }
        }
        let contracts: Vec<Contract> = parsed.iter().map(Parsed::contract).collect();
        for (p, contract) in parsed.iter().zip(&contracts) {
            p.check(&parsed, contract)?;
        }
        let mut datasets: Vec<DomainDataset> = Vec::with_capacity(parsed.len());
        let mut by_name: BTreeMap<String, (Parsed, Contract)> =
            parsed.into_iter().zip(contracts).map(|(p, c)| (p.name.clone(), (p, c))).collect();
        for d in &order {
            let (p, contract) = by_name.remove(d).ok_or_else(|| at.err("datasets", format!("internal: {d:?} ordered twice")))?;
            let mut depends_on: Vec<String> = p.dependencies();
            depends_on.sort_by_key(|n| order.iter().position(|o| o == n));
            datasets.push(DomainDataset {
                name: p.name,
                description: p.description,
                spec_file: p.file,
                file_stem: p.file_stem,
                format: p.format,
                key: p.key,
                rows: p.rows,
                depends_on,
                columns: p.columns,
                defects: p.defects,
                contract,
            });
        }
        Ok(Domain { name, description, source, partitioning, root: input.root.clone(), datasets })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DomainInput {
    root: String,
    domain_file: String,
    domain: Value,
    datasets: BTreeMap<String, DatasetInput>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DatasetInput {
    file: String,
    spec: Value,
}

fn join(root: &str, file: &str) -> String {
    if root.is_empty() {
        file.to_string()
    } else {
        format!("{}/{file}", root.trim_end_matches('/'))
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn field_path(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Builds errors that name one file.
struct Located<'a> {
    file: &'a str,
}

impl Located<'_> {
    fn err(&self, field: &str, message: String) -> DomainError {
        DomainError::Invalid { file: self.file.to_string(), field: field.to_string(), message }
    }

    /// `value` as a mapping whose keys are all in `allowed`.
    fn object<'v>(&self, value: &'v Value, path: &str, allowed: &[&str]) -> Result<&'v Map<String, Value>, DomainError> {
        let Value::Object(map) = value else {
            let what = if path.is_empty() { "the file" } else { path };
            return Err(self.err(path, format!("{what} must be a mapping")));
        };
        if let Some(key) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(self.err(&field_path(path, key), format!("unknown field; expected one of: {}", allowed.join(", "))));
        }
        Ok(map)
    }

    fn optional<T: DeserializeOwned>(&self, map: &Map<String, Value>, path: &str, key: &str) -> Result<Option<T>, DomainError> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => serde_json::from_value(v.clone()).map(Some).map_err(|e| self.err(&field_path(path, key), e.to_string())),
        }
    }

    fn required<T: DeserializeOwned>(&self, map: &Map<String, Value>, path: &str, key: &str) -> Result<T, DomainError> {
        self.optional(map, path, key)?.ok_or_else(|| self.err(&field_path(path, key), "missing".into()))
    }
}

/// One dataset file, read but not yet judged against the others.
struct Parsed {
    name: String,
    file: String,
    description: String,
    version: u32,
    file_stem: String,
    format: FileFormat,
    key: String,
    rows: Rows,
    depends_on: Vec<String>,
    columns: Vec<DomainColumn>,
    rules: Vec<RuleSpec>,
    freshness: Option<Freshness>,
    row_count: Option<RowCount>,
    extra_columns: Severity,
    defects: Vec<DefectKind>,
}

const DATASET_FIELDS: &[&str] =
    &["$schema", "description", "version", "file", "key", "rows", "depends_on", "columns", "checks", "defects"];
const COLUMN_FIELDS: &[&str] = &[
    "name", "type", "required", "unique", "pattern", "accepted_values", "min", "max", "foreign_key", "pii",
    "severity", "tolerance", "generator",
];

impl Parsed {
    fn at(&self) -> Located<'_> {
        Located { file: &self.file }
    }

    fn read(name: &str, file: &str, spec: &Value) -> Result<Parsed, DomainError> {
        let at = Located { file };
        let map = at.object(spec, "", DATASET_FIELDS)?;
        let file_spec = at.object(map.get("file").unwrap_or(&Value::Null), "file", &["stem", "format"])?;
        let format_name: String = at.required(file_spec, "file", "format")?;
        let format: FileFormat = format_name.parse().map_err(|e: crate::datasets::ArgumentError| at.err("file.format", e.to_string()))?;
        let file_stem: String = at.optional(file_spec, "file", "stem")?.unwrap_or_else(|| name.to_string());
        if !is_identifier(&file_stem) {
            return Err(at.err("file.stem", format!("{file_stem:?} must be lower case letters, digits and _")));
        }
        let rows: Rows = at.required(map, "", "rows")?;
        if rows.base == 0 {
            return Err(at.err("rows.base", "must be at least 1".into()));
        }
        let Some(Value::Array(raw_columns)) = map.get("columns") else {
            return Err(at.err("columns", "missing: a list of columns".into()));
        };
        if raw_columns.is_empty() {
            return Err(at.err("columns", "a dataset needs at least one column".into()));
        }
        let mut columns: Vec<DomainColumn> = Vec::with_capacity(raw_columns.len());
        for (i, raw) in raw_columns.iter().enumerate() {
            let column = read_column(&at, i, raw)?;
            if let Some(first) = columns.iter().position(|c| c.spec.name == column.spec.name) {
                return Err(at.err(&format!("columns[{i}].name"), format!("column {:?} declared twice (first at columns[{first}])", column.spec.name)));
            }
            columns.push(column);
        }
        let checks_value = map.get("checks").cloned().unwrap_or_else(|| Value::Object(Map::new()));
        let checks = at.object(&checks_value, "checks", &["rules", "freshness", "row_count", "extra_columns"])?;
        let defect_names: Vec<String> = at.optional(map, "", "defects")?.unwrap_or_default();
        let mut defects = Vec::with_capacity(defect_names.len());
        for (i, d) in defect_names.iter().enumerate() {
            let kind = DefectKind::parse(d).map_err(|e| at.err(&format!("defects[{i}]"), e.to_string()))?;
            if defects.contains(&kind) {
                return Err(at.err(&format!("defects[{i}]"), format!("defect kind {d:?} listed twice")));
            }
            defects.push(kind);
        }
        Ok(Parsed {
            name: name.to_string(),
            file: file.to_string(),
            description: at.optional(map, "", "description")?.unwrap_or_default(),
            version: at.optional(map, "", "version")?.unwrap_or(1),
            file_stem,
            format,
            key: at.required(map, "", "key")?,
            rows,
            depends_on: at.optional(map, "", "depends_on")?.unwrap_or_default(),
            columns,
            rules: at.optional(checks, "checks", "rules")?.unwrap_or_default(),
            freshness: at.optional(checks, "checks", "freshness")?,
            row_count: at.optional(checks, "checks", "row_count")?,
            extra_columns: at.optional(checks, "checks", "extra_columns")?.unwrap_or(Severity::Warn),
            defects,
        })
    }

    fn column(&self, name: &str) -> Option<&ColumnSpec> {
        self.columns.iter().map(|c| &c.spec).find(|c| c.name == name)
    }

    /// Datasets named by `depends_on` and by foreign keys (not this one).
    fn dependencies(&self) -> Vec<String> {
        let mut deps: BTreeSet<String> = self.depends_on.iter().cloned().collect();
        for c in &self.columns {
            if let Some(fk) = &c.spec.foreign_key {
                deps.insert(fk.dataset.clone());
            }
        }
        deps.remove(&self.name);
        deps.into_iter().collect()
    }

    fn contract(&self) -> Contract {
        Contract {
            dataset: self.name.clone(),
            version: self.version,
            columns: self.columns.iter().map(|c| c.spec.clone()).collect(),
            rules: self.rules.clone(),
            freshness: self.freshness.clone(),
            row_count: self.row_count.clone(),
            extra_columns: self.extra_columns,
        }
    }

    /// Judges this dataset against the others: its key, its references, its generators,
    /// and its contract.
    fn check(&self, all: &[Parsed], contract: &Contract) -> Result<(), DomainError> {
        let at = self.at();
        match self.column(&self.key) {
            None => return Err(at.err("key", format!("{:?} is not a column of {:?}", self.key, self.name))),
            Some(k) if !(k.unique && k.required) => {
                return Err(at.err("key", format!("key column {:?} must be unique and required", self.key)))
            }
            Some(_) => {}
        }
        let find = |name: &str| all.iter().find(|p| p.name == name);
        let names: Vec<&str> = all.iter().map(|p| p.name.as_str()).collect();
        for (j, d) in self.depends_on.iter().enumerate() {
            if d == &self.name {
                return Err(at.err(&format!("depends_on[{j}]"), "a dataset cannot depend on itself".into()));
            }
            if find(d).is_none() {
                return Err(at.err(&format!("depends_on[{j}]"), format!("unknown dataset {d:?}; expected one of: {}", names.join(", "))));
            }
        }
        let specs: Vec<ColumnSpec> = self.columns.iter().map(|c| c.spec.clone()).collect();
        let dataset_specs: BTreeMap<&str, Vec<ColumnSpec>> =
            all.iter().map(|p| (p.name.as_str(), p.columns.iter().map(|c| c.spec.clone()).collect())).collect();
        let dataset_columns = |name: &str| dataset_specs.get(name).map(|v| v.as_slice());
        let referenced = |c: &ColumnSpec| -> Option<&ColumnSpec> {
            let fk = c.foreign_key.as_ref()?;
            let target = find(&fk.dataset)?;
            target.column(fk.column.as_deref().unwrap_or(&target.key))
        };
        for (i, c) in self.columns.iter().enumerate() {
            let path = format!("columns[{i}]");
            if let Some(fk) = &c.spec.foreign_key {
                let Some(target) = find(&fk.dataset) else {
                    return Err(at.err(
                        &format!("{path}.foreign_key.dataset"),
                        format!("unknown dataset {:?}; expected one of: {}", fk.dataset, names.join(", ")),
                    ));
                };
                let target_column = fk.column.as_deref().unwrap_or(&target.key);
                match target.column(target_column) {
                    None => {
                        return Err(at.err(
                            &format!("{path}.foreign_key.column"),
                            format!("dataset {:?} has no column {target_column:?}", fk.dataset),
                        ))
                    }
                    Some(t) if t.column_type != c.spec.column_type => {
                        return Err(at.err(
                            &format!("{path}.foreign_key"),
                            format!("{} column {:?} references {} column {}.{target_column}", c.spec.column_type.name(), c.spec.name, t.column_type.name(), fk.dataset),
                        ))
                    }
                    Some(_) => {}
                }
            }
            if let Some(g) = &c.generator {
                let scope = generator::Scope {
                    column: &c.spec,
                    columns: &specs,
                    rows: &self.rows,
                    dataset_columns: &dataset_columns,
                    referenced: &referenced,
                };
                g.check(&scope).map_err(|(field, message)| {
                    let field = if field.is_empty() { format!("{path}.generator") } else { format!("{path}.generator.{field}") };
                    at.err(&field, message)
                })?;
                if let Generator::Derived { rule } = &g.generator {
                    RowRule::parse(rule, contract).map_err(|e| at.err(&format!("{path}.generator.rule"), e))?;
                }
            }
        }
        let known = |name: &str| -> Option<Vec<String>> {
            find(name).map(|p| p.columns.iter().map(|c| c.spec.name.clone()).collect())
        };
        contract.check_in(&known).map_err(|e| at.err("", e.to_string()))
    }
}

fn read_column(at: &Located<'_>, i: usize, raw: &Value) -> Result<DomainColumn, DomainError> {
    let path = format!("columns[{i}]");
    let map = at.object(raw, &path, COLUMN_FIELDS)?;
    match map.get("type") {
        Some(Value::String(t)) if ColumnType::ALL.iter().any(|c| c.name() == t) => {}
        Some(Value::String(t)) => {
            let known: Vec<&str> = ColumnType::ALL.iter().map(|c| c.name()).collect();
            return Err(at.err(&format!("{path}.type"), format!("unknown type {t:?}; expected one of: {}", known.join(", "))));
        }
        Some(other) => return Err(at.err(&format!("{path}.type"), format!("must be a type name, got {other}"))),
        None => return Err(at.err(&format!("{path}.type"), "missing".into())),
    }
    let mut rest = map.clone();
    let generator = rest.remove("generator");
    let spec: ColumnSpec = serde_json::from_value(Value::Object(rest)).map_err(|e| at.err(&path, e.to_string()))?;
    let generator = match generator {
        None | Some(Value::Null) => None,
        Some(g) => Some(ColumnGenerator::parse(&g).map_err(|(field, message)| {
            let field = if field.is_empty() { format!("{path}.generator") } else { format!("{path}.generator.{field}") };
            at.err(&field, message)
        })?),
    };
    Ok(DomainColumn { spec, generator })
}

/// Gives each foreign key without a `column` the referenced dataset's key, unless the
/// contract's default (`ForeignKey::column`) already resolves to it: a derived contract
/// says no more than it must.
fn resolve(parsed: &mut [Parsed]) {
    let keys: BTreeMap<String, String> = parsed.iter().map(|p| (p.name.clone(), p.key.clone())).collect();
    for p in parsed.iter_mut() {
        for c in &mut p.columns {
            if let Some(fk) = &mut c.spec.foreign_key {
                if fk.column.is_none() {
                    if let Some(key) = keys.get(&fk.dataset) {
                        let default = ForeignKey { dataset: fk.dataset.clone(), column: None }.column();
                        if &default != key {
                            fk.column = Some(key.clone());
                        }
                    }
                }
            }
        }
    }
}

/// The datasets in the domain's order, each moved after what it depends on; a cycle is an
/// error naming it.
fn dependency_order(parsed: &[Parsed]) -> Result<Vec<String>, DomainError> {
    let names: BTreeSet<&str> = parsed.iter().map(|p| p.name.as_str()).collect();
    let deps: Vec<Vec<String>> =
        parsed.iter().map(|p| p.dependencies().into_iter().filter(|d| names.contains(d.as_str())).collect()).collect();
    let mut placed: Vec<String> = Vec::with_capacity(parsed.len());
    while placed.len() < parsed.len() {
        let next = parsed
            .iter()
            .zip(&deps)
            .find(|(p, ds)| !placed.contains(&p.name) && ds.iter().all(|d| placed.contains(d)));
        match next {
            Some((p, _)) => placed.push(p.name.clone()),
            None => {
                // Walk unplaced dependencies from an unplaced dataset until one repeats.
                let index = |name: &str| parsed.iter().position(|p| p.name == name);
                let mut path: Vec<usize> = vec![parsed.iter().position(|p| !placed.contains(&p.name)).unwrap_or(0)];
                loop {
                    let current = path[path.len() - 1];
                    let Some(next) = deps[current].iter().filter(|d| !placed.contains(d)).find_map(|d| index(d)) else {
                        break;
                    };
                    if let Some(start) = path.iter().position(|&i| i == next) {
                        let cycle: Vec<&str> =
                            path[start..].iter().chain(std::iter::once(&next)).map(|&i| parsed[i].name.as_str()).collect();
                        let first = &parsed[path[start]];
                        return Err(first.at().err(
                            "depends_on",
                            format!("dependency cycle {} (through depends_on and foreign keys)", cycle.join(" -> ")),
                        ));
                    }
                    path.push(next);
                }
                return Err(parsed[path[0]].at().err("depends_on", "dependency cycle".into()));
            }
        }
    }
    Ok(placed)
}

#[cfg(test)]
mod tests;
