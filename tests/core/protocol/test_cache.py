"""The cache of parsed protocol YAML: a valid text's tree read back instead of parsed, the same Study either
way; invalid texts never cached (their problems keep their lines); a corrupt file is a miss."""

from __future__ import annotations

from pathlib import Path

import pytest

from rodnan.core.protocol import cache, load
from rodnan.core.protocol.load import bundled_protocol_path, load_protocol_text
from rodnan.errors import ProtocolError

TEXT = bundled_protocol_path().read_text(encoding="utf-8")


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "protocols"))
    return tmp_path / "protocols"


def _no_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the YAML was parsed although its tree is cached")

    monkeypatch.setattr(load, "YAML", refuse)


def test_a_second_load_reads_the_tree_and_gives_an_equal_study(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = load_protocol_text(TEXT)
    files = list(folder.glob("*.json"))
    assert len(files) == 1
    _no_yaml(monkeypatch)
    second = load_protocol_text(TEXT)
    assert second == first
    assert second.protocol.effective_date == first.protocol.effective_date  # a YAML date comes back as a date


def test_a_corrupt_or_truncated_file_is_a_miss(folder: Path) -> None:
    first = load_protocol_text(TEXT)
    (file,) = folder.glob("*.json")
    file.write_text(file.read_text(encoding="utf-8")[:1000], encoding="utf-8")
    assert load_protocol_text(TEXT) == first
    assert file.read_text(encoding="utf-8").endswith("}")  # rewritten whole by the full load


def test_an_invalid_text_is_never_cached_and_keeps_its_line_numbers(folder: Path) -> None:
    broken = TEXT.replace("target_enrolment: 20", "target_enrolment: twenty", 1)
    assert broken != TEXT
    for _ in range(2):
        with pytest.raises(ProtocolError) as error:
            load_protocol_text(broken)
        assert any(p.line is not None and "target_enrolment" in p.dotted_path for p in error.value.problems)
    assert not folder.exists() or not list(folder.glob("*.json"))


def test_a_cached_tree_that_no_longer_validates_falls_back_to_the_full_load(folder: Path) -> None:
    """A tree kept under the text's name that breaks a rule (as after a rule is tightened) is not used."""
    load_protocol_text(TEXT)
    (file,) = folder.glob("*.json")
    file.write_text('{"identity": 5}', encoding="utf-8")
    assert load_protocol_text(TEXT).identity.registry_number == "NCT00962923"


def test_off_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cache.CACHE_ENV, "off")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    load_protocol_text(TEXT)
    assert cache.cache_folder() is None
    assert not any(tmp_path.rglob("*.json"))
