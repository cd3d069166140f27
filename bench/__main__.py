"""`python -m bench` (`make bench`): run the benchmark, print the tables, write the JSON."""

from __future__ import annotations

import sys

from bench import config, report
from bench.run import run


def main(argv: list[str] | None = None) -> int:
    settings = config.from_args(argv)
    results = run(settings)
    print(report.render(results))
    report.write_json(results, settings.out)
    print(f"\nresults: {settings.out}")
    failed = [name for name, db in results["databases"].items() if db.get("status") == "failed"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
