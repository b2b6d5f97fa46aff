"""The mutation score of each money-critical module, from the results ``mutmut run`` left in ``mutants/``.

    .venv/bin/python tools/mutation_report.py                  # one line per module; exit 1 if any is below 95%
    .venv/bin/python tools/mutation_report.py --survivors      # and the name of every mutant the tests let live

The modules are ``[tool.mutmut] only_mutate`` in pyproject.toml. A mutant counts as killed when a test failed on it,
when it ran past mutmut's time limit (a mutant that turns a loop endless is caught) or when the type checker refused
it; one that survived, had no test reaching it or was never checked counts against the module. ``mutmut show NAME``
prints the change a mutant made.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code

THRESHOLD_PERCENT = 95.0
KILLED = frozenset({"killed", "timeout", "caught by type check"})
NOT_COUNTED = frozenset({"skipped"})  # excluded on purpose, as mutmut's own badge does


def mutated_modules(pyproject: Path) -> list[str]:
    config = tomllib.loads(pyproject.read_text(encoding="utf-8"))["tool"]["mutmut"]
    return list(config["only_mutate"])


def module_statuses(path: str, mutants_dir: Path) -> dict[str, str] | None:
    """Each mutant of ``path`` with mutmut's status for it; None when mutmut left no results for the module."""
    meta = mutants_dir / f"{path}.meta"
    if not meta.is_file():
        return None
    exit_codes: dict[str, int | None] = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
    return {name: status_by_exit_code[code] for name, code in exit_codes.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--survivors", action="store_true", help="list every mutant that was not killed")
    parser.add_argument("--threshold", type=float, default=THRESHOLD_PERCENT, help="minimum %% killed per module")
    parser.add_argument("--mutants", type=Path, default=Path("mutants"), help="the folder mutmut ran in")
    args = parser.parse_args(argv)

    failing = []
    for path in mutated_modules(Path("pyproject.toml")):
        module = path.removesuffix(".py").replace("/", ".")
        statuses = module_statuses(path, args.mutants)
        if not statuses:
            print(f"{module} no results (run `mutmut run` first)")
            failing.append(module)
            continue
        counted = {name: status for name, status in statuses.items() if status not in NOT_COUNTED}
        killed = sum(1 for status in counted.values() if status in KILLED)
        total = len(counted)
        score = 100.0 * killed / total if total else 100.0
        others = Counter(status for status in counted.values() if status not in KILLED)
        detail = f" ({', '.join(f'{count} {status}' for status, count in sorted(others.items()))})" if others else ""
        print(f"{module} {killed}/{total} = {score:.1f}%{detail}")
        if score < args.threshold:
            failing.append(module)
        if args.survivors:
            for name, status in sorted(counted.items()):
                if status not in KILLED:
                    print(f"    {status}: {name}")
    if failing:
        print(f"below {args.threshold:g}%: {', '.join(failing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
