"""Runs every benchmark in bench/ in one go; each prints its own table of ratios.

``./dev bench`` runs them all with their defaults; ``./dev bench --quick`` uses small sizes.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).parent
QUICK = {
    "bench_generate.py": ["--scale", "0.05", "--ours-scale", "0.5"],
    "bench_validate.py": ["--rows", "500000"],
    "bench_upload.py": ["--small-files", "200", "--large-mib", "64"],
}


def main() -> int:
    quick = "--quick" in sys.argv[1:]
    failed = 0
    for script in sorted(HERE.glob("bench_*.py")):
        args = QUICK.get(script.name, []) if quick else []
        print(f"\n=== {script.name} {' '.join(args)}", flush=True)
        failed += subprocess.run([sys.executable, str(script), *args]).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
