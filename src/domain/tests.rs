use serde_json::{json, Value};

use super::*;
use crate::datasets::Dataset;

/// A small user domain: customers, and orders that reference them.
fn shop() -> Value {
    json!({
        "root": "domains/shop",
        "domain_file": "domain.yaml",
        "domain": {"name": "shop", "source": "landing", "partitioning": "hourly", "datasets": ["orders", "customers"]},
        "datasets": {
            "customers": {"file": "datasets/customers.yaml", "spec": {
                "file": {"format": "csv"},
                "key": "customer_key",
                "rows": {"basis": "fixed", "base": 10},
                "columns": [
                    {"name": "customer_key", "type": "string", "unique": true, "generator": {"kind": "uuid"}},
                    {"name": "name", "type": "string", "generator": {"kind": "vocabulary", "vocabulary": "first_names", "pick": "uniform"}}
                ]
            }},
            "orders": {"file": "datasets/orders.yaml", "spec": {
                "file": {"format": "parquet", "stem": "order_lines"},
                "key": "order_id",
                "rows": {"basis": "scaled", "base": 1000},
                "columns": [
                    {"name": "order_id", "type": "string", "unique": true},
                    {"name": "customer_id", "type": "string", "foreign_key": {"dataset": "customers"},
                     "generator": {"kind": "reference", "pick": "skewed", "skew": [0.7, 0.2, 0.1]}},
                    {"name": "amount", "type": "float64", "min": 0, "max": 500,
                     "generator": {"kind": "number", "distribution": "cubic", "decimals": 2, "null_rate": 0.1}},
                    {"name": "paid", "type": "bool", "generator": {"kind": "bernoulli", "p": 0.9}}
                ],
                "checks": {"row_count": {"min": 1}},
                "defects": ["null_key"]
            }}
        }
    })
}

fn load(input: &Value) -> Result<Domain, DomainError> {
    Domain::from_json(&input.to_string())
}

fn error_of(input: &Value) -> String {
    load(input).expect_err("the domain should not load").to_string()
}

#[test]
fn the_marketing_domain_describes_the_shipped_datasets() {
    let domain = shipped(SHIPPED_DOMAIN).unwrap();
    assert_eq!((domain.source, domain.partitioning), (Source::Generate, Partitioning::Daily));
    assert_eq!(domain.dataset_names(), Dataset::names());
    for d in Dataset::ALL {
        let spec = domain.dataset(d.name()).unwrap();
        assert_eq!(spec.key, d.key_column(), "{d}");
        assert_eq!(spec.format, d.default_format(), "{d}");
        assert_eq!(spec.file_stem, d.name(), "{d}");
        assert_eq!(spec.rows.base as usize, d.base_rows(), "{d}");
        assert_eq!(spec.rows.basis == RowBasis::Fixed, d.is_dimension(), "{d}");
        for scale in [0.01, 1.0, 20.0] {
            assert_eq!(spec.rows.at_scale(scale), d.rows(scale), "{d} at {scale}");
        }
        assert_eq!(spec.contract.schema(), d.schema(), "{d}");
        let applies: Vec<DefectKind> = DefectKind::ALL.into_iter().filter(|k| k.applies_to(d)).collect();
        assert_eq!(spec.defects, applies, "{d}");
        assert!(spec.columns.iter().all(|c| c.generator.is_some()), "{d}: every column of a generated domain has a generator");
    }
    assert_eq!(domain.dataset("website_activity").unwrap().depends_on, ["campaigns", "pages", "contacts"]);
    assert!(matches!(shipped("retail"), Err(DomainError::Unknown { .. })));
}

#[test]
fn a_user_domain_loads_in_dependency_order() {
    let domain = load(&shop()).unwrap();
    assert_eq!(domain.name, "shop");
    assert_eq!((domain.source, domain.partitioning), (Source::Landing, Partitioning::Hourly));
    assert_eq!(domain.dataset_names(), ["customers", "orders"], "orders references customers");
    let orders = domain.dataset("orders").unwrap();
    assert_eq!((orders.file_stem.as_str(), orders.format), ("order_lines", FileFormat::Parquet));
    assert_eq!(orders.depends_on, ["customers"]);
    assert_eq!(orders.spec_file, "domains/shop/datasets/orders.yaml");
    assert_eq!(orders.columns[2].generator.as_ref().unwrap().null_rate, 0.1);
    // The contract names the referenced column: the default (a shipped key) would not be it.
    let fk = orders.contract.columns[1].foreign_key.as_ref().unwrap();
    assert_eq!(fk.column(), "customer_key");
    assert_eq!(orders.contract.extra_columns, Severity::Warn);
    assert_eq!(orders.rows.at_scale(0.5), 500);
}

/// Applies `edit` to the shop domain and returns the load error.
fn broken(edit: impl FnOnce(&mut Value)) -> String {
    let mut input = shop();
    edit(&mut input);
    error_of(&input)
}

fn orders_column(input: &mut Value, i: usize) -> &mut Value {
    &mut input["datasets"]["orders"]["spec"]["columns"][i]
}

#[test]
fn bad_domains_name_the_file_and_the_field() {
    let orders = "domains/shop/datasets/orders.yaml: ";
    let cases: Vec<(String, String)> = vec![
        (
            broken(|d| orders_column(d, 2)["type"] = json!("strng")),
            format!("{orders}columns[2].type: unknown type \"strng\"; expected one of: string, int64, float64, bool, date, timestamp"),
        ),
        (
            broken(|d| orders_column(d, 1)["foreign_key"] = json!({"dataset": "clients"})),
            format!("{orders}columns[1].foreign_key.dataset: unknown dataset \"clients\"; expected one of: orders, customers"),
        ),
        (
            broken(|d| orders_column(d, 1)["foreign_key"] = json!({"dataset": "customers", "column": "email"})),
            format!("{orders}columns[1].foreign_key.column: dataset \"customers\" has no column \"email\""),
        ),
        (
            broken(|d| orders_column(d, 3)["generator"] = json!({"kind": "uuid"})),
            format!("{orders}columns[3].generator.kind: a \"uuid\" generator makes string values; column \"paid\" is bool"),
        ),
        (
            broken(|d| orders_column(d, 2)["generator"] = json!({"kind": "number", "distribution": "geometric"})),
            format!("{orders}columns[2].generator.kind: a \"number\" generator makes int64 values; column \"amount\" is float64"),
        ),
        (
            broken(|d| orders_column(d, 0)["generator"] = json!({"kind": "reference", "pick": "uniform"})),
            format!("{orders}columns[0].generator.kind: a \"reference\" generator needs a foreign_key on column \"order_id\""),
        ),
        (
            broken(|d| orders_column(d, 3)["name"] = json!("amount")),
            format!("{orders}columns[3].name: column \"amount\" declared twice (first at columns[2])"),
        ),
        (
            broken(|d| orders_column(d, 3)["generator"] = json!({"kind": "coin", "p": 0.5})),
            format!("{orders}columns[3].generator: unknown variant `coin`"),
        ),
        (
            broken(|d| orders_column(d, 3)["colour"] = json!("red")),
            format!("{orders}columns[3].colour: unknown field; expected one of: name, type"),
        ),
        (
            broken(|d| orders_column(d, 2)["generator"]["null_rate"] = json!(2)),
            format!("{orders}columns[2].generator.null_rate: must be a number in [0, 1], got 2"),
        ),
        (
            broken(|d| d["datasets"]["customers"]["spec"]["depends_on"] = json!(["orders"])),
            "domains/shop/datasets/orders.yaml: depends_on: dependency cycle orders -> customers -> orders".to_string(),
        ),
        (
            broken(|d| d["datasets"]["orders"]["spec"]["depends_on"] = json!(["orders"])),
            format!("{orders}depends_on[0]: a dataset cannot depend on itself"),
        ),
        (
            broken(|d| d["datasets"]["orders"]["spec"]["depends_on"] = json!(["payments"])),
            format!("{orders}depends_on[0]: unknown dataset \"payments\""),
        ),
        (
            broken(|d| d["datasets"]["orders"]["spec"]["key"] = json!("amount")),
            format!("{orders}key: key column \"amount\" must be unique and required"),
        ),
        (
            broken(|d| d["datasets"]["orders"]["spec"]["file"]["format"] = json!("xlsx")),
            format!("{orders}file.format: unknown format \"xlsx\""),
        ),
        (
            broken(|d| d["datasets"]["orders"]["spec"]["defects"] = json!(["typo"])),
            format!("{orders}defects[0]: unknown defect kind \"typo\""),
        ),
        (
            broken(|d| d["datasets"]["orders"]["spec"]["checks"]["freshness"] = json!({"column": "paid"})),
            format!("{orders}contract \"orders\": freshness column \"paid\" must be a date or timestamp"),
        ),
        (
            broken(|d| {
                d["datasets"]["orders"]["spec"].as_object_mut().unwrap().remove("rows");
            }),
            format!("{orders}rows: missing"),
        ),
        (
            broken(|d| d["domain"]["datasets"] = json!(["orders", "customers", "payments"])),
            "domains/shop/domain.yaml: datasets[2]: no file for dataset \"payments\" (expected datasets/payments.yaml or datasets/payments.json)".to_string(),
        ),
        (
            broken(|d| d["domain"]["datasets"] = json!(["orders"])),
            "domains/shop/datasets/customers.yaml: dataset \"customers\" is not listed in domain.yaml's datasets".to_string(),
        ),
        (
            broken(|d| d["domain"]["source"] = json!("upload")),
            "domains/shop/domain.yaml: source: unknown variant `upload`, expected `generate` or `landing`".to_string(),
        ),
        (
            broken(|d| {
                d["datasets"]["customers"]["spec"]["rows"]["base"] = json!(1000);
                d["datasets"]["customers"]["spec"]["columns"][1]["generator"]["pick"] = json!("row");
            }),
            "domains/shop/datasets/customers.yaml: columns[1].generator.pick: pick row needs a fixed universe of at most the".to_string(),
        ),
        (
            broken(|d| d["datasets"]["customers"]["spec"]["columns"][1]["generator"]["vocabulary"] = json!("surnames")),
            "domains/shop/datasets/customers.yaml: columns[1].generator.vocabulary: unknown vocabulary \"surnames\"; expected one of: first_names".to_string(),
        ),
    ];
    for (err, expected) in cases {
        assert!(err.starts_with(&expected), "\n got: {err}\nwant: {expected}");
    }
}

#[test]
fn a_derived_rule_generator_is_parsed_against_its_dataset() {
    let err = broken(|d| {
        orders_column(d, 3)["generator"] = json!({"kind": "derived", "rule": "amount > refunds"});
    });
    assert!(err.starts_with("domains/shop/datasets/orders.yaml: columns[3].generator.rule: "), "{err}");
    assert!(err.contains("refunds"), "{err}");
}
