"""Issue 19's catalogue, counted: each line of ../shared/RELIABILITY.md has a test marked with its ID
(`@pytest.mark.catalogue("A4")`), except the lines in NOT_YET, and NOT_YET only shrinks.

The marks are read from the test files' syntax trees (tests/catalogue.py), never by importing them.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from .catalogue import CATALOGUE, marked_tests, read_catalogue

# The lines no test checks yet: issue 19 still has to cover them. A line that gains a marked test
# must leave this set, and a line that loses its last one fails here until it has one again.
NOT_YET: set[str] = set()


@pytest.fixture(scope="module")
def lines() -> dict[str, str]:
    return read_catalogue()


@pytest.fixture(scope="module")
def marked() -> tuple[dict[str, list[str]], list[str]]:
    return marked_tests()


def test_every_line_of_the_catalogue_is_read(lines: dict[str, str]) -> None:
    """A line written in another shape (another dash, say) would silently drop out of the count."""
    loose = re.findall(r"^- [A-Z]\d+\b", CATALOGUE.read_text(encoding="utf-8"), flags=re.MULTILINE)
    assert len(lines) == len(loose)
    by_section: dict[str, list[int]] = {}
    for line_id in lines:
        by_section.setdefault(line_id[0], []).append(int(line_id[1:]))
    for section, numbers in by_section.items():
        assert numbers == list(range(1, len(numbers) + 1)), f"{section}: {numbers}"


def test_the_lines_without_a_marked_test_are_exactly_not_yet(
    lines: dict[str, str], marked: tuple[dict[str, list[str]], list[str]]
) -> None:
    tests, _ = marked
    assert NOT_YET <= set(lines), f"NOT_YET names lines the catalogue does not have: {NOT_YET - set(lines)}"
    untested = {line_id for line_id in lines if line_id not in tests}
    lost = [line_id for line_id in lines if line_id in untested - NOT_YET]
    gained = {line_id: tests[line_id] for line_id in lines if line_id in NOT_YET - untested}
    assert not lost, f"no test is marked with {lost} any more: mark one, or (a step back) add it to NOT_YET"
    assert not gained, f"take {list(gained)} out of NOT_YET, marked tests check them now: {gained}"


def test_every_marked_id_is_a_line_of_the_catalogue(
    lines: dict[str, str], marked: tuple[dict[str, list[str]], list[str]]
) -> None:
    tests, _ = marked
    unknown = {line_id: where for line_id, where in tests.items() if line_id not in lines}
    assert not unknown, f"marked IDs that {CATALOGUE} does not have: {unknown}"


def test_every_mark_is_readable_and_on_a_test(marked: tuple[dict[str, list[str]], list[str]]) -> None:
    _, problems = marked
    assert problems == []


def test_the_reader_finds_marks_where_pytest_does(tmp_path: Path) -> None:
    """Module, class and function marks, several IDs in one mark; marks pytest would not see as
    coverage (on a helper, with a computed ID) are problems, not counted."""
    (tmp_path / "test_example.py").write_text(
        textwrap.dedent(
            """
            import pytest
            from pytest import mark

            pytestmark = [pytest.mark.slow, pytest.mark.catalogue("K1")]

            @pytest.mark.catalogue("A4", "A5")
            @pytest.mark.parametrize("x", [1, 2])
            def test_one(x):
                pass

            async def test_two():
                pass

            @mark.catalogue("P1")
            class TestGroup:
                pytestmark = pytest.mark.catalogue("P2")

                @pytest.mark.catalogue("K1")
                def test_three(self):
                    pass

                def helper(self):
                    pass

            @pytest.mark.catalogue("S1")
            def helper():
                pass

            ID = "S2"

            @pytest.mark.catalogue(ID)
            def test_four():
                pass
            """
        )
    )
    helpers = 'import pytest\n\n@pytest.mark.catalogue("U1")\ndef test_x():\n    pass\n'
    (tmp_path / "helpers.py").write_text(helpers)  # not a test module: pytest never collects it
    tests, problems = marked_tests(tmp_path)
    assert tests == {
        "K1": [
            "test_example.py::test_one",
            "test_example.py::test_two",
            "test_example.py::TestGroup::test_three",
            "test_example.py::test_four",
        ],
        "A4": ["test_example.py::test_one"],
        "A5": ["test_example.py::test_one"],
        "P1": ["test_example.py::TestGroup::test_three"],
        "P2": ["test_example.py::TestGroup::test_three"],
    }
    assert problems == [
        "test_example.py:26: a catalogue mark on what pytest collects as no test",
        "test_example.py:32: catalogue() takes line IDs as plain strings: 'A4'",
    ]
