"""One registry of every MARKETING_CORE_* setting (marketing_core.settings): no other module
spells one, Rust's and dbt's readers agree with it, README documents it, and store and
upload behaviour is an option of StoreConfig, not a hidden switch."""

from __future__ import annotations

import ast
import re

from conftest import REPO

from marketing_core import settings

NAME = re.compile(r"MARKETING_CORE_[A-Z0-9_]+")


def _code_strings(path) -> list[tuple[int, str]]:
    """String constants of a Python file that are not docstrings."""
    tree = ast.parse(path.read_text())
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
                docstrings.add(id(body[0].value))
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings]


def test_no_python_module_but_the_registry_spells_a_setting():
    offenders = []
    for path in [*(REPO / "python" / "marketing_core").rglob("*.py"), *(REPO / "airflow_dags").glob("*.py")]:
        if path.name == "settings.py":
            continue
        offenders += [f"{path.relative_to(REPO)}:{line}: {text!r}" for line, text in _code_strings(path) if NAME.search(text)]
    assert offenders == []


def test_rust_reads_only_registered_settings_and_only_in_src_settings_rs():
    registered = {s.name for s in settings.REGISTRY if "rust" in s.read_by}
    in_settings_rs = set(NAME.findall((REPO / "src" / "settings.rs").read_text()))
    assert in_settings_rs == registered
    elsewhere = []
    for path in (REPO / "src").rglob("*.rs"):
        if path.name == "settings.rs":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("//", 1)[0]
            if NAME.search(code) or "env::var" in code and "AWS_" not in code:
                elsewhere.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert elsewhere == [], "environment reads in Rust belong in src/settings.rs"


def test_dbt_reads_registered_settings_with_the_registry_defaults():
    by_name = {s.name: s for s in settings.REGISTRY}
    found = {}
    for path in (REPO / "dbt").rglob("*"):
        if path.suffix in (".sql", ".yml"):
            for name, default in re.findall(r"env_var\(\s*'(MARKETING_CORE_[A-Z0-9_]+)'\s*(?:,\s*'([^']*)')?", path.read_text()):
                found[name] = default
    assert found, "dbt reads some settings"
    for name, default in found.items():
        assert name in by_name, name
        assert "dbt" in by_name[name].read_by, name
        assert default == (by_name[name].default or ""), name


def test_every_setting_named_in_deployment_files_is_registered_and_every_entry_is_read():
    registered = {s.name for s in settings.REGISTRY}
    for name in ("docker-compose.yml", ".env.example", "README.md", "dbt/README.md"):
        assert set(NAME.findall((REPO / name).read_text())) <= registered, name
    python = "\n".join(p.read_text() for p in [*(REPO / "python" / "marketing_core").rglob("*.py"),
                                              *(REPO / "airflow_dags").glob("*.py")] if p.name != "settings.py")
    rust = (REPO / "src" / "settings.rs").read_text()
    dbt = "\n".join(p.read_text() for p in (REPO / "dbt").rglob("*") if p.suffix in (".sql", ".yml"))
    for s in settings.REGISTRY:
        attribute = s.name.removeprefix("MARKETING_CORE_")
        read = (f"settings.{attribute}." in python) or (s.name in rust) or (s.name in dbt)
        assert read, f"{s.name} is registered but nothing reads it"


def test_readme_documents_the_registry():
    assert settings.markdown_table() in (REPO / "README.md").read_text()


def test_a_setting_reads_the_environment_and_falls_back_to_its_default(monkeypatch):
    monkeypatch.delenv(settings.RETRY_DELAY_SECONDS.name, raising=False)
    assert settings.RETRY_DELAY_SECONDS.get() == "300"
    monkeypatch.setenv(settings.RETRY_DELAY_SECONDS.name, "")
    assert settings.RETRY_DELAY_SECONDS.get() == "300", "empty counts as unset"
    monkeypatch.setenv(settings.RETRY_DELAY_SECONDS.name, "1")
    assert settings.RETRY_DELAY_SECONDS.get() == "1"


def test_store_behaviour_is_an_option_not_an_environment_switch():
    """The multipart publish path and the lease TTL were environment switches read
    mid-upload; they are StoreConfig fields now, checked in Rust."""
    from marketing_core import StoreConfig

    names = {s.name for s in settings.REGISTRY}
    assert not {"MARKETING_CORE_MULTIPART_PUBLISH", "MARKETING_CORE_LOCK_TTL"} & names
    options = dict(StoreConfig(url="s3://", multipart_publish="copy", lock_ttl=2.0).options())
    assert options == {"multipart_publish": "copy", "lock_ttl": "2.0"}
