"""Checks that say what they mean: PII masking, unusable references, hostile contracts."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pyarrow as pa
import pytest

import marketing_core as mc
from conftest import DS, read_file
from marketing_core.airflow.callbacks import new_failures


def test_pii_samples_are_masked_in_report_metadata_and_alert(tmp_path):
    data = tmp_path / "data"
    mc.generate("contacts", DS, data, scale_factor=0.02, seed=3, format="csv", defects={"bad_email": 0.05})
    db = tmp_path / "meta.sqlite"
    report = mc.validate(str(data / f"contacts_{DS}.csv"), out_dir=tmp_path / "out", metadata=str(db))
    check = report.check("pattern:email")
    assert check.rows_failed > 0 and check.samples
    quarantine = read_file(report.quarantine_path)
    raw = [e for e in quarantine.column("email").to_pylist() if e]
    # The quarantine file (access-controlled data) keeps the raw values...
    assert len(raw) == check.rows_failed
    # ...but no sample anywhere is one of them: masked, same length, shape kept.
    for s in check.samples:
        assert s not in raw and "*" in s
    assert sorted(len(s) for s in check.samples) == sorted(len(e) for e in raw[: len(check.samples)])
    report_json = (tmp_path / "out").rglob("report.json")
    texts = {
        "report.json": next(report_json).read_text(),
        "summary (XCom)": json.dumps(report.summary()),
        "alert payload": json.dumps(new_failures([report.summary()])),
        "metadata": json.dumps(sqlite3.connect(db).execute("SELECT sample_values FROM dq_checks").fetchall()),
    }
    assert "pattern:email" in texts["alert payload"]
    for where, text in texts.items():
        leaked = [e for e in raw if e in text or json.dumps(e)[1:-1] in text]
        assert not leaked, f"{where} contains raw emails {leaked[:3]}"


def test_an_unusable_reference_makes_the_check_error_and_the_report_not_pass(tmp_path):
    day = mc.generate_day(DS, tmp_path, scale_factor=0.02, seed=4)
    fills = day["form_fills"].path
    broken = tmp_path / "contacts_broken.csv"
    broken.write_text("name\nx\n")
    cases = {
        "missing": str(tmp_path / "nowhere.csv"),
        "no such column": str(broken),
    }
    for why, ref in cases.items():
        report = mc.validate(fills, references={"contacts": ref, "forms": day["forms"].path,
                                                "campaigns": day["campaigns"].path})
        c = report.check("foreign_key:contact_id")
        assert c.status == "error", why
        assert c.message and "contacts" in c.message, why
        assert report.status == "error" and not report.passed, why
        assert c.failed
        # No row is judged by a check that could not run.
        assert c.rows_failed == 0 and report.rows_valid == report.rows_in
    ok = mc.validate(fills, references={"contacts": day["contacts"].path, "forms": day["forms"].path,
                                        "campaigns": day["campaigns"].path})
    assert ok.check("foreign_key:contact_id").status == "passed" and ok.passed


def test_contract_mistakes_are_contract_errors_at_load():
    base = {"dataset": "x", "columns": [{"name": "n", "type": "int64"}, {"name": "s", "type": "string"}]}
    mistakes = [
        ({"rules": [{"name": "r", "rule": "s = 5"}]}, "cannot compare a string"),
        ({"columns": [{"name": "n", "type": "int64", "min": 10, "max": 1}]}, "greater than max"),
        ({"columns": [{"name": "c", "type": "string", "foreign_key": {"dataset": "contacts", "column": "mail"}}]},
         "has no column"),
        ({"columns": [{"name": "c", "type": "string", "foreign_key": {"dataset": "contatcs"}}]}, "not a known dataset"),
    ]
    for change, expected in mistakes:
        with pytest.raises(mc.ContractError, match=expected):
            mc.load_contract({**base, **change})


ATTACKS = {
    "yaml alias bomb": (
        "import marketing_core as mc\n"
        "lines = ['a: &a [x,x,x,x,x,x,x,x,x]'] + [f'{chr(98+i)}: &{chr(98+i)} [' + ','.join(['*' + chr(97+i)]*9) + ']'"
        " for i in range(9)]\n"
        "text = 'dataset: x\\ncolumns: [{name: a, type: string}]\\n' + '\\n'.join(lines)\n"
        "assert len(text) < 1000\n"
        "mc.load_contract(text)\n"
    ),
    "yaml self alias": "import marketing_core as mc\nmc.load_contract('dataset: x\\ncolumns: &c [*c]\\n')\n",
    "yaml deep nesting": "import marketing_core as mc\nmc.load_contract('dataset: x\\ncolumns: ' + '[' * 50000)\n",
    "json deep nesting": "import marketing_core as mc\nmc.load_contract('{\"a\":' * 200000 + '1' + '}' * 200000)\n",
    "10,000 ands": (
        "import marketing_core as mc\n"
        "mc.load_contract({'dataset': 'x', 'columns': [{'name': 'n', 'type': 'int64'}],"
        " 'rules': [{'name': 'r', 'rule': ' and '.join(['n > 1'] * 10000)}]})\n"
    ),
    "10,000 nots": (
        "import marketing_core as mc\n"
        "mc.load_contract({'dataset': 'x', 'columns': [{'name': 'b', 'type': 'bool'}],"
        " 'rules': [{'name': 'r', 'rule': 'not ' * 10000 + 'b'}]})\n"
    ),
    "20,000 parentheses": (
        "import marketing_core as mc\n"
        "mc.load_contract({'dataset': 'x', 'columns': [{'name': 'b', 'type': 'bool'}],"
        " 'rules': [{'name': 'r', 'rule': '(' * 20000 + 'b' + ')' * 20000}]})\n"
    ),
}


@pytest.mark.parametrize("name", list(ATTACKS))
def test_hostile_contracts_are_contract_errors_not_crashes(name):
    # In a subprocess: a stack overflow kills it (a failed test), not pytest.
    script = f"try:\n    exec({ATTACKS[name]!r})\nexcept __import__('marketing_core').ContractError as e:\n" \
             "    print('ContractError:', str(e)[:200])\nelse:\n    print('accepted')\n"
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.startswith("ContractError:"), run.stdout + run.stderr[-2000:]


def test_uuid_keys_are_case_insensitive_for_unique_and_foreign_keys():
    u = "123e4567-e89b-12d3-a456-426614174000"
    contacts = pa.table({"contact_id": [u, u.upper()], "x": ["a", "b"]})
    contract = {"dataset": "people", "columns": [
        {"name": "contact_id", "type": "string", "unique": True, "pattern": "uuid"},
        {"name": "x", "type": "string", "unique": True}]}
    report = mc.validate_table(contacts, contract=contract)
    assert report.check("unique:contact_id").rows_failed == 2
    assert report.check("unique:x").rows_failed == 0
    fills = pa.table({"contact_id": [u.upper(), "223e4567-e89b-12d3-a456-426614174000"]})
    fk = {"dataset": "fills", "columns": [
        {"name": "contact_id", "type": "string", "pattern": "uuid", "foreign_key": {"dataset": "contacts"}}]}
    ref = pa.table({"contact_id": [u]})
    report = mc.validate_table(fills, contract=fk, references={"contacts": ref})
    assert report.check("foreign_key:contact_id").rows_failed == 1
