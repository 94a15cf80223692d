"""Domains: the shipped marketing domain, a user domain in YAML, the JSON Schema, and the
errors a bad domain file gives (file and field named)."""

from __future__ import annotations

import json
import pathlib
import re
import shutil
import subprocess

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


# --- one spelling: the domain ---------------------------------------------------------------

REPO = pathlib.Path(__file__).resolve().parent.parent
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: At most this many other words between two consecutive columns of a spelled list.
_GAP = 12
#: Lists of fewer columns (a dimension's id, url and title) are what every join and mart
#: selects; the scan looks for the longer lists of the row-level datasets.
_MIN_COLUMNS = 5
#: Files that still spell a dataset's columns, each with its reason: until the slice of
#: issue 12 that derives it from the domain, or because it must stay independent of it.
_NOT_YET_DERIVED = {
    "src/datasets.rs": "slice 2: the Arrow schemas come from the domain",
    "dbt/models/staging/marketing/stg_marketing__contacts.sql": "dbt per domain: staging models select the raw columns",
    "dbt/models/staging/marketing/stg_marketing__form_fills.sql": "dbt per domain",
    "dbt/models/staging/marketing/stg_marketing__website_activity.sql": "dbt per domain",
    "dbt/models/marts/core/mart_form_fills.sql": "dbt per domain: the mart selects the staged columns",
    "bench/bench_generate.py": "the Faker+pandas peer makes its own columns: it is the comparison",
    "bench/bench_validate.py": "the peers validate with a contract of their own: the comparison",
    "tests/test_generation.py": "the column-stability test: a frozen expectation a domain change must fail",
    "tests/test_readers.py": "a literal CSV input, as a user's file spells its header",
    "tests/test_validation.py": "a literal CSV input, as a user's file spells its header",
    "src/validate/tests.rs": "a literal CSV input, as a user's file spells its header",
}
#: Files that spell a dataset's columns and a test holds equal to the domain.
_TESTED_AGAINST_THE_DOMAIN = {
    "dbt/models/staging/marketing/_marketing__sources.yml": "test_dbts_sources_list_the_domains_columns",
}


def _spells(tokens: list[str], columns: list[str]) -> bool:
    """Whether ``columns`` occur in ``tokens`` in order, each within _GAP words of the last."""
    for start, token in enumerate(tokens):
        if token != columns[0]:
            continue
        at, found = start, 1
        while found < len(columns):
            window = tokens[at + 1 : at + 2 + _GAP]
            if columns[found] not in window:
                break
            at += 1 + window.index(columns[found])
            found += 1
        if found == len(columns):
            return True
    return False


def _tracked_text_files() -> list[pathlib.Path]:
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True, text=True, check=True)
    files = []
    for name in listed.stdout.splitlines():
        path = REPO / name
        if path.suffix in {".py", ".rs", ".sql", ".yml", ".yaml", ".json", ".md", ".toml", ".txt", ".csv"} and path.is_file():
            files.append(path)
    return files


def test_no_other_file_spells_a_datasets_column_list():
    """A dataset's column list is spelled once, in the domain. Generated files (they say
    so in their first line) and the files this test reads the domain for are the only
    other places it may appear."""
    marketing = domains.load_domain("marketing")
    lists = {d.name: d.columns for d in marketing.datasets if len(d.columns) >= _MIN_COLUMNS}
    domain_dir = domains.SHIPPED_DIR / "marketing"
    offenders = []
    for path in _tracked_text_files():
        relative = path.relative_to(REPO).as_posix()
        if path.is_relative_to(domain_dir) or relative in _NOT_YET_DERIVED or relative in _TESTED_AGAINST_THE_DOMAIN or path == pathlib.Path(__file__):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if text.lstrip("{#- ").startswith("Generated from the "):
            continue
        tokens = _IDENTIFIER.findall(text)
        offenders += [f"{relative}: {name}" for name, columns in lists.items() if _spells(tokens, columns)]
    assert offenders == []
    # An exception that no longer spells a list must leave the lists above.
    for relative in [*_NOT_YET_DERIVED, *_TESTED_AGAINST_THE_DOMAIN]:
        tokens = _IDENTIFIER.findall((REPO / relative).read_text())
        assert any(_spells(tokens, columns) for columns in lists.values()), f"{relative} spells no column list any more"


def test_the_spelling_scan_finds_a_spelled_list():
    columns = ["session_id", "contact_id", "campaign_id"]
    assert _spells(_IDENTIFIER.findall("select session_id, contact_id,\n  campaign_id from t"), columns)
    assert not _spells(_IDENTIFIER.findall("select session_id, campaign_id, contact_id from t"), columns)


# --- dbt derives from the domain -----------------------------------------------------------

def test_dbts_raw_column_lists_are_generated_from_the_domain():
    from marketing_core import dbt_files

    checked_in = (REPO / "dbt" / dbt_files.RAW_DATASETS_MACRO).read_text()
    assert checked_in == dbt_files.render_raw_datasets_macro(domains.load_domain("marketing")), (
        "run `python -m marketing_core.dbt_files` after changing the marketing domain"
    )


def test_dbts_sources_list_the_domains_columns():
    import yaml

    sources = yaml.safe_load((REPO / "dbt/models/staging/marketing/_marketing__sources.yml").read_text())
    [source] = sources["sources"]
    meta = ["ds", "_loaded_at", "_source_file"]
    marketing = domains.load_domain("marketing")
    tables = {t["name"]: [c["name"] for c in t["columns"]] for t in source["tables"]}
    # Besides the datasets: the metadata store's dq_checks, which is not a dataset.
    assert [t for t in tables if t != "dq_checks"] == marketing.dataset_names
    for d in marketing.datasets:
        assert tables[d.name] == d.columns + meta, d.name
