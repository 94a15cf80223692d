"""Domains: the shipped marketing domain, a user domain in YAML, the JSON Schema, and the
errors a bad domain file gives (file and field named)."""

from __future__ import annotations

import json
import pathlib
import shutil

import jsonschema
import pytest
from referencing import Registry, Resource

import marketing_core as mc
from marketing_core import domains
from marketing_core.exceptions import ContractError, DomainError

SHOP = pathlib.Path(__file__).resolve().parent / "data" / "domains" / "shop"


def _schema_validator(schema_path: pathlib.Path) -> jsonschema.Draft202012Validator:
    schemas = [json.loads(p.read_text()) for p in (domains.SCHEMA_PATH, domains.DATASET_SCHEMA_PATH)]
    registry = Registry().with_resources([(s["$id"], Resource.from_contents(s)) for s in schemas])
    schema = json.loads(schema_path.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, registry=registry)


def _documents(root: pathlib.Path) -> dict:
    return domains.read_documents(root)


@pytest.mark.parametrize("root", [domains.SHIPPED_DIR / "marketing", SHOP], ids=["marketing", "shop"])
def test_domain_files_follow_the_published_json_schema(root):
    docs = _documents(root)
    _schema_validator(domains.SCHEMA_PATH).validate(docs["domain"])
    dataset_validator = _schema_validator(domains.DATASET_SCHEMA_PATH)
    for name, dataset in docs["datasets"].items():
        errors = [e.message for e in dataset_validator.iter_errors(dataset["spec"])]
        assert errors == [], f"{name}: {errors}"


def test_the_schema_rejects_what_the_core_rejects():
    validator = _schema_validator(domains.DATASET_SCHEMA_PATH)
    spec = _documents(SHOP)["datasets"]["orders"]["spec"]
    for column_edit in ({"type": "strng"}, {"colour": "red"}, {"generator": {"kind": "coin"}},
                        {"generator": {"kind": "uuid", "prefix": "X"}}):
        bad = json.loads(json.dumps(spec))
        bad["columns"][0].update(column_edit)
        assert list(validator.iter_errors(bad)), column_edit


def test_the_marketing_domain_is_shipped_and_lists_the_datasets_in_order():
    assert domains.list_domains() == ["marketing"]
    marketing = domains.load_domain("marketing")
    assert (marketing.name, marketing.source, marketing.partitioning) == ("marketing", "generate", "daily")
    assert marketing.dataset_names == list(mc.DATASETS)
    contacts = marketing.dataset("contacts")
    assert (contacts.key, contacts.format, contacts.file_stem, contacts.rows_basis) == ("contact_id", "csv", "contacts", "scaled")
    assert contacts.rows(0.5) == 50_000 and marketing.dataset("campaigns").rows(7.0) == 20
    assert marketing.dataset("website_activity").depends_on == ["campaigns", "pages", "contacts"]
    with pytest.raises(KeyError, match='no dataset "leads"'):
        marketing.dataset("leads")
    # The shipped folder read from disk is the domain compiled into the core.
    from_disk = domains.load_domain(domains.SHIPPED_DIR / "marketing")
    assert from_disk.dataset_names == marketing.dataset_names
    for a, b in zip(from_disk.datasets, marketing.datasets, strict=True):
        assert (a.columns, a.column_types, a.key, a.format, a.defects) == (b.columns, b.column_types, b.key, b.format, b.defects)
        assert json.loads(a.contract_json()) == json.loads(b.contract_json())


def test_a_user_domain_in_yaml_loads_in_dependency_order():
    shop = domains.load_domain(SHOP)
    assert (shop.name, shop.source, shop.root) == ("shop", "landing", str(SHOP))
    assert shop.dataset_names == ["customers", "orders"]
    orders = shop.dataset("orders")
    assert (orders.file_stem, orders.format, orders.depends_on) == ("order_lines", "parquet", ["customers"])
    assert orders.spec_file == f"{SHOP}/datasets/orders.yaml"
    contract = domains.contract(orders)
    assert contract.columns == ["order_id", "customer_key", "quantity", "paid"]
    # The derived contract names the referenced key, so validation needs no shipped default.
    assert contract.column("customer_key")["foreign_key"] == {"dataset": "customers", "column": "customer_key"}
    assert mc.load_contract(contract.spec) == contract
    assert contract.spec["rules"][0]["name"] == "paid_orders_have_quantity"


def _shop_copy(tmp_path: pathlib.Path) -> pathlib.Path:
    root = tmp_path / "shop"
    shutil.copytree(SHOP, root)
    return root


def _edit(path: pathlib.Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


BAD = [
    ("datasets/orders.yaml", "{name: quantity, type: int64", "{name: quantity, type: integer",
     'datasets/orders.yaml: columns[2].type: unknown type "integer"; expected one of: string, int64'),
    ("datasets/orders.yaml", "foreign_key: {dataset: customers}", "foreign_key: {dataset: clients}",
     'datasets/orders.yaml: columns[1].foreign_key.dataset: unknown dataset "clients"'),
    ("datasets/orders.yaml", "foreign_key: {dataset: customers}", "foreign_key: {dataset: customers, column: id}",
     'datasets/orders.yaml: columns[1].foreign_key.column: dataset "customers" has no column "id"'),
    ("datasets/customers.yaml", "rows: {basis: fixed, base: 50}", "rows: {basis: fixed, base: 50}\ndepends_on: [orders]",
     "datasets/orders.yaml: depends_on: dependency cycle orders -> customers -> orders"),
    ("datasets/orders.yaml", "generator: {kind: bernoulli, p: 0.9", "generator: {kind: day",
     'datasets/orders.yaml: columns[3].generator.kind: a "day" generator makes date or timestamp values; column "paid" is bool'),
    ("datasets/orders.yaml", "{name: paid, type: bool", "{name: quantity, type: bool",
     'datasets/orders.yaml: columns[3].name: column "quantity" declared twice (first at columns[2])'),
    ("datasets/orders.yaml", "key: order_id", "key: order_id\nrows_per_day: 3",
     "datasets/orders.yaml: rows_per_day: unknown field; expected one of:"),
    ("datasets/orders.yaml", "columns:", "columns: [\n",
     "datasets/orders.yaml: invalid YAML:"),
    ("domain.yaml", "source: landing", "source: upload",
     "domain.yaml: source: unknown variant `upload`, expected `generate` or `landing`"),
]


@pytest.mark.parametrize(("file", "old", "new", "expected"), BAD, ids=[b[3].split(": ")[1] for b in BAD])
def test_a_bad_domain_file_is_a_domain_error_naming_the_file_and_the_field(tmp_path, file, old, new, expected):
    root = _shop_copy(tmp_path)
    _edit(root / file, old, new)
    with pytest.raises(DomainError) as caught:
        domains.load_domain(root)
    assert str(caught.value).startswith(f"{root}/{expected}"), str(caught.value)
    assert isinstance(caught.value, ContractError)


def test_missing_and_doubled_files_are_domain_errors(tmp_path):
    with pytest.raises(DomainError, match="unknown domain 'retail'.*marketing"):
        domains.load_domain("retail")
    with pytest.raises(DomainError, match="not a domain folder"):
        domains.load_domain(tmp_path)
    root = _shop_copy(tmp_path)
    (root / "datasets" / "orders.json").write_text("{}")
    with pytest.raises(DomainError, match="orders.yaml and orders.json both describe 'orders'"):
        domains.load_domain(root)
    (root / "datasets" / "orders.json").unlink()
    (root / "datasets" / "customers.yaml").unlink()
    with pytest.raises(DomainError, match=r"domain.yaml: datasets\[1\]: no file for dataset \"customers\""):
        domains.load_domain(root)

