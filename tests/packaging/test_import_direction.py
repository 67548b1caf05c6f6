"""The arrows of the house run down: every import inside jupyter_mlws is one the map allows.

docs/architecture.md holds the allowed arrows as a table (between the `imports:begin` and
`imports:end` markers): each row names units (a top-level module such as `validation`, or a
package such as `store`) and the units they may import. This test walks every module's
imports with `ast`, lazy ones inside functions and `TYPE_CHECKING` ones included, and fails
on an arrow the table does not list, naming the file and line; so a layer that reaches up
(the store importing compute, the client naming a widget module) cannot land unnoticed.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "jupyter_mlws"
MAP = REPO / "docs" / "architecture.md"

#: The package root (`jupyter_mlws/__init__.py`) is the public face: it may import any unit.
ROOT = "jupyter_mlws"


def allowed_arrows() -> dict[str, set[str]]:
    text = MAP.read_text()
    match = re.search(r"<!-- imports:begin -->(.*?)<!-- imports:end -->", text, re.S)
    assert match, f"{MAP} has no imports:begin/imports:end table"
    allowed: dict[str, set[str]] = {}
    for line in match.group(1).splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not cells[0].startswith("`"):
            continue  # the header, its rule, or prose
        units = re.findall(r"`([\w.]+)`", cells[0])
        targets = set(re.findall(r"`([\w.]+)`", cells[1]))
        for unit in units:
            assert unit not in allowed, f"{unit} has two rows in the table"
            allowed[unit] = targets
    return allowed


def unit_of(module: str) -> str:
    """`jupyter_mlws.store.sql.runs` → `store`; `jupyter_mlws.validation` → `validation`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ROOT


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_in(source: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, imported module) for every import of ours in `source`, relative ones resolved."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.split(".")[0] == ROOT]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                if (node.module or "").split(".")[0] == ROOT:
                    found.append((node.lineno, node.module or ROOT))
                continue
            parts = package.split(".")
            base = ".".join(parts[: len(parts) - (node.level - 1)] + ([node.module] if node.module else []))
            if node.module is None:  # `from . import client`: the modules named
                found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, base))
    return found


def imports_of(path: Path) -> list[tuple[int, str]]:
    return imports_in(path.read_text(), module_name(path), path.name == "__init__.py")


def upward_arrows() -> list[str]:
    allowed = allowed_arrows()
    wrong: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "labextension" in path.relative_to(PACKAGE).parts:
            continue
        source = unit_of(module_name(path))
        if source == ROOT:
            continue
        where = path.relative_to(REPO)
        assert source in allowed, f"{where}: unit {source!r} has no row in {MAP.name}'s table"
        for line, target in imports_of(path):
            unit = unit_of(target)
            if unit != source and unit not in allowed[source]:
                wrong.append(f"{where}:{line}: {source} → {unit} ({target})")
    return wrong


def test_every_import_runs_down_the_map() -> None:
    wrong = upward_arrows()
    assert not wrong, "imports the table in docs/architecture.md does not allow:\n" + "\n".join(wrong)


def test_the_table_names_only_units_that_exist() -> None:
    units = {path.stem for path in PACKAGE.glob("*.py")} | {
        path.parent.name for path in PACKAGE.glob("*/__init__.py")
    }
    named = set(allowed_arrows())
    for targets in allowed_arrows().values():
        named |= targets
    assert named <= units, f"the table names units that do not exist: {sorted(named - units)}"


def test_the_cli_entry_imports_its_resources_never_the_reverse() -> None:
    """Inside `cli/`: the entry (`main`, `__init__`) imports the resource modules, not the other way."""
    entry = {"jupyter_mlws.cli", "jupyter_mlws.cli.main"}
    wrong = []
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        if module_name(path) in entry or path.name == "__main__.py":
            continue
        found = imports_of(path)
        wrong += [f"{path.name}:{line} imports {target}" for line, target in found if target in entry]
    assert not wrong, wrong


def test_the_walker_sees_a_lazy_relative_import_that_runs_up() -> None:
    """The check itself can fail: the client importing a widget module inside a method is caught."""
    source = "def show(run):\n    from ..widgets.details import RunDetails\n    return RunDetails(run)\n"
    found = imports_in(source, "jupyter_mlws.client.run", is_package=False)
    assert found == [(2, "jupyter_mlws.widgets.details")]
    assert "widgets" not in allowed_arrows()["client"]
    assert imports_in("from . import client", ROOT, is_package=True) == [(1, "jupyter_mlws.client")]
