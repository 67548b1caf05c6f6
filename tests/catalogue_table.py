"""Print the reliability catalogue as a Markdown table: each line of ../shared/RELIABILITY.md and
the tests marked with its ID. `make reliability` prints it after running those tests, and
docs/reliability.md holds a copy. From the repository root: `python -m tests.catalogue_table`.
"""

from __future__ import annotations

import sys

from .catalogue import marked_tests, read_catalogue

WIDTH = 60  # characters of each line shown


def _start(text: str, width: int = WIDTH) -> str:
    """The first words of a line, up to about `width` characters, as a table cell."""
    if len(text) > width:
        text = text[:width].rsplit(" ", 1)[0] + " …"
        if text.count("`") % 2:
            text = text[:-2] + "` …"  # close a code span the cut left open
    return text.replace("|", "\\|")


def table(lines: dict[str, str], tests: dict[str, list[str]]) -> str:
    rows = ["| ID | line | tests |", "|---|---|---|"]
    for line_id, text in lines.items():
        names = "<br>".join(f"`{name}`" for name in tests.get(line_id, [])) or "— *(not yet)*"
        rows.append(f"| {line_id} | {_start(text)} | {names} |")
    return "\n".join(rows)


def main() -> int:
    lines = read_catalogue()
    tests, problems = marked_tests()
    print(table(lines, tests))
    missing = ", ".join(line_id for line_id in lines if line_id not in tests) or "none"
    covered = sum(line_id in tests for line_id in lines)
    print(f"\n{covered} of {len(lines)} lines have marked tests; not yet: {missing}.")
    unknown = sorted(set(tests) - set(lines))
    for problem in problems + [f"{i} is marked but is no line of the catalogue" for i in unknown]:
        print(f"catalogue: {problem}", file=sys.stderr)
    return 1 if problems or unknown else 0


if __name__ == "__main__":
    sys.exit(main())
