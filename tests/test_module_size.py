"""No module under src/rodnan is longer than 600 lines (style guide: split a module by responsibility once it
passes ~600 lines; decision 0009)."""

from __future__ import annotations

from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "rodnan"
MAX_LINES = 600


def modules_over(root: Path, limit: int) -> dict[str, int]:
    """The ``.py`` files under ``root`` with more than ``limit`` lines, by path relative to ``root``."""
    found: dict[str, int] = {}
    for path in sorted(root.rglob("*.py")):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > limit:
            found[path.relative_to(root).as_posix()] = lines
    return found


def test_modules_over_counts_lines(tmp_path: Path) -> None:
    """The check itself: 600 lines pass, 601 do not; files in sub-packages count; other files do not."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "ok.py").write_text("x = 1\n" * 600)
    (tmp_path / "pkg" / "long.py").write_text("x = 1\n" * 600 + "y = 2")
    (tmp_path / "notes.txt").write_text("x\n" * 700)
    assert modules_over(tmp_path, 600) == {"pkg/long.py": 601}


def test_no_module_is_longer_than_600_lines() -> None:
    """Every module of the package stays within 600 lines."""
    too_long = modules_over(SRC, MAX_LINES)
    assert too_long == {}, f"split these by responsibility (at most {MAX_LINES} lines each): {too_long}"
