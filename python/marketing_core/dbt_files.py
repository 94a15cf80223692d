"""Files of the dbt project derived from the shipped domain, so that dbt never spells a
dataset's columns itself: the raw loaders' column lists (``marketing_raw_datasets``).

    python -m marketing_core.dbt_files [DBT_PROJECT_DIR]    # rewrite them after a domain change

``tests/test_domains.py`` fails while a checked-in file differs from what this renders.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from . import domains

__all__ = ["RAW_DATASETS_MACRO", "render_raw_datasets_macro", "write"]

#: The generated macro file, relative to the dbt project.
RAW_DATASETS_MACRO = Path("macros") / "loading" / "marketing_raw_datasets.sql"

#: Domain column type -> the logical type the loading macros map per adapter (marketing_type).
_LOGICAL_TYPES = {
    "string": "string", "bool": "boolean", "float64": "double", "int64": "integer",
    "date": "date", "timestamp": "timestamp",
}


def render_raw_datasets_macro(domain: domains.Domain) -> str:
    """The ``marketing_raw_datasets`` macro: per raw dataset of ``domain``, its columns in
    file order with a logical type, and its file format."""
    entries = []
    for d in domain.datasets:
        columns = ", ".join(json.dumps([c, _LOGICAL_TYPES[t]]) for c, t in zip(d.columns, d.column_types, strict=True))
        entries.append(f'        {json.dumps(d.name)}: {{"format": {json.dumps(d.format)}, "columns": [{columns}]}},')
    body = "\n".join(entries)
    return (
        f"{{#- Generated from the {domain.name} domain (marketing_core/domains/{domain.name}/) by\n"
        "    `python -m marketing_core.dbt_files`: do not edit, change the domain and run it again.\n"
        "    One entry per raw dataset: its columns in file order with a logical type, and its\n"
        "    file format. Both adapters' loaders build their DDL and SELECT lists from it. -#}\n"
        "{% macro marketing_raw_datasets() %}\n"
        "    {{ return({\n"
        f"{body}\n"
        "    }) }}\n"
        "{% endmacro %}\n"
    )


def write(project_dir: str | Path) -> list[Path]:
    """Writes the derived files into the dbt project; returns their paths."""
    path = Path(project_dir) / RAW_DATASETS_MACRO
    path.write_text(render_raw_datasets_macro(domains.load_domain("marketing")), encoding="utf-8")
    return [path]


if __name__ == "__main__":  # pragma: no cover - a developer's command
    from .warehouse import project_dir

    for written in write(sys.argv[1] if len(sys.argv) > 1 else project_dir()):
        print(written)
