"""Where a report came from: the SHA-256 of the input data and of the protocol, the software versions, the time.

The report's footer states these (docs/report.md, "Reproducing a report"). :func:`fingerprint_data` gives
the data's SHA-256 exactly as ``sha256sum <files> | sha256sum`` prints it in the data directory;
:func:`fingerprint_frames` gives the same for data read from a database (the contract's frames as CSV).
A report from the web database also states the audit head it was built from and whether the database is
locked (:class:`DatabaseState`, filled by the caller: this package never imports Django).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from rodnan import __version__
from rodnan.core.records.states import RecordStatus

DATA_FILES = ("adverse_events.csv", "simulation.json", "subjects.csv", "values.csv")
"""The input files that are hashed, when present, in this (name) order."""
SOFTWARE = ("numpy", "pandas", "scipy", "lifelines", "statsmodels", "matplotlib", "weasyprint", "pydantic")
"""Packages whose versions the Methods section lists."""


@dataclass(frozen=True)
class DataFingerprint:
    """The SHA-256 of each input file and of the whole input.

    Attributes:
        files: (file name, SHA-256 hex) of each input file present, in name order.
        sha256: SHA-256 of the lines ``"<hex>  <name>\\n"`` of ``files`` (the output of ``sha256sum`` run on
            the same files in the same order, in the data directory), so ``sha256sum adverse_events.csv
            simulation.json subjects.csv values.csv | sha256sum`` reproduces it.
    """

    files: tuple[tuple[str, str], ...]
    sha256: str


@dataclass(frozen=True)
class DatabaseState:
    """The web database a report was built from, as the caller read it just before reading the data.

    Attributes:
        database: which database, for people ("SQLite database in rodnan-data", "PostgreSQL rodnan"): no
            password and no parent folders.
        audit_seq: the sequence number of the audit chain's head (None: the chain has no head row).
        audit_hash: the head's hash (hex), None with ``audit_seq``.
        locked: True when the database is locked for analysis, False when it is not, None when no lock
            is recorded (the web application has no lock yet: data management will add one).
        records: the forms of the visits that took place by record state (a
            :class:`~rodnan.core.records.states.RecordStatus` value and its count): how complete the data are.
    """

    database: str
    audit_seq: int | None
    audit_hash: str | None
    locked: bool | None = None
    records: tuple[tuple[str, int], ...] = ()

    @property
    def completeness_text(self) -> str:
        """The forms of the visits that took place by state, for people: "120 complete, 3 in progress, 2 not
        done (125 forms at the visits that took place)"; empty when no count was given."""
        if not self.records:
            return ""
        total = sum(n for _, n in self.records)
        parts = ", ".join(f"{n:,} {RecordStatus(status).label.lower()}" for status, n in self.records)
        return f"{parts} ({total:,} form{'s' if total != 1 else ''} at the visits that took place)"

    @property
    def head_text(self) -> str:
        """The audit head for people: "entry #12345, hash <hex>" (or that the head row is missing)."""
        if self.audit_seq is None:
            return "none (the database has no audit head row)"
        return f"entry #{self.audit_seq}, hash {self.audit_hash}"

    @property
    def lock_text(self) -> str:
        """ "locked", "not locked" or "no lock recorded"."""
        return {True: "locked", False: "not locked", None: "no lock recorded"}[self.locked]


@dataclass(frozen=True)
class Provenance:
    """Where a report came from: what its footer states.

    Attributes:
        protocol_code: the protocol's code (``protocol.code`` of the YAML file).
        protocol_version: the protocol's version.
        protocol_file: the protocol file's name (no directory).
        protocol_sha256: SHA-256 of the protocol file's bytes.
        data_name: the data directory's name (no parent directories: the HTML does not depend on where it is).
        data: the input files' fingerprint.
        rodnan_version: the rodnan version that wrote the report.
        generated: the generation time (aware, UTC).
        simulation: ``simulation.json`` of a simulated data set (None for real data).
        software: (package, version) pairs for the Methods section (:func:`software_versions`).
        database: the web database and its audit head and lock (None: a simulator folder, not from a database).
    """

    protocol_code: str
    protocol_version: str
    protocol_file: str
    protocol_sha256: str
    data_name: str
    data: DataFingerprint
    rodnan_version: str
    generated: dt.datetime
    simulation: Mapping[str, Any] | None = None
    software: tuple[tuple[str, str], ...] = ()
    database: DatabaseState | None = None


def fingerprint_data(data_dir: str | Path) -> DataFingerprint:
    """SHA-256 of each input file of :data:`DATA_FILES` present in ``data_dir``, and of the set.

    Args:
        data_dir: the data directory.

    Returns:
        :class:`DataFingerprint`; its ``sha256`` is what ``sha256sum <files present> | sha256sum`` prints.
    """
    folder = Path(data_dir)
    files = tuple(
        (name, hashlib.sha256((folder / name).read_bytes()).hexdigest()) for name in DATA_FILES if (folder / name).is_file()
    )
    listing = "".join(f"{digest}  {name}\n" for name, digest in files)
    return DataFingerprint(files, hashlib.sha256(listing.encode("ascii")).hexdigest())


def fingerprint_frames(frames: Mapping[str, Any]) -> DataFingerprint:
    """SHA-256 of data read from a database: each frame written as CSV (``<name>.csv``, no index, ``\\n`` line
    ends), in name order, and of the set as for :func:`fingerprint_data`.

    Args:
        frames: pandas DataFrames by name (``subjects``, ``values`` ... of the trial data contract).

    Returns:
        :class:`DataFingerprint`: writing each frame with ``to_csv(index=False, lineterminator="\\n")`` and running
        ``sha256sum`` on the files reproduces it.
    """
    files = tuple(
        (f"{name}.csv", hashlib.sha256(frames[name].to_csv(index=False, lineterminator="\n").encode("utf-8")).hexdigest())
        for name in sorted(frames)
    )
    listing = "".join(f"{digest}  {name}\n" for name, digest in files)
    return DataFingerprint(files, hashlib.sha256(listing.encode("ascii")).hexdigest())


def software_versions() -> tuple[tuple[str, str], ...]:
    """Python and the versions of the numerical and rendering packages (:data:`SOFTWARE`)."""
    versions = [("python", platform.python_version()), ("rodnan", __version__)]
    for name in SOFTWARE:
        try:
            versions.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            versions.append((name, "not installed"))
    return tuple(versions)


def read_simulation(folder: Path) -> Mapping[str, Any] | None:
    """``simulation.json`` of a ``rodnan simulate`` directory (None when absent or unreadable)."""
    target = folder / "simulation.json"
    if not target.is_file():
        return None
    try:
        loaded = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None


def utc(now: dt.datetime | None) -> dt.datetime:
    """The generation time in UTC: ``now`` (naive times are taken as UTC), or the current time."""
    if now is None:
        return dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        return now.replace(tzinfo=dt.UTC)
    return now.astimezone(dt.UTC)
