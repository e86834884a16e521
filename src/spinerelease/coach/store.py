"""SQLite history of guided sessions: versioned schema, WAL, one transaction per completed step.

The database lives under the user's data directory (``platformdirs.user_data_dir("spinerelease")``) unless a
path is given or ``SPINERELEASE_DB`` is set. Every completed step is committed in its own transaction, so a
session killed mid-way keeps every step it completed. A file that is not a spinerelease history, a corrupted
file, or one written by a newer version is refused with a clear message and left untouched.
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import InputError

APP_ID = 0x53505231  # "SPR1": PRAGMA application_id marks our databases

#: Schema migrations: index i upgrades user_version i -> i + 1.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        tool TEXT NOT NULL,
        target TEXT NOT NULL,
        level TEXT NOT NULL,
        forearm_support REAL NOT NULL,
        status TEXT NOT NULL DEFAULT 'running'
    );
    CREATE TABLE steps (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        step_key TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        status TEXT NOT NULL,
        pain INTEGER CHECK (pain IS NULL OR (pain BETWEEN 0 AND 10)),
        repeat_index INTEGER NOT NULL DEFAULT 0
    );
    """,
    """
    ALTER TABLE sessions ADD COLUMN note TEXT NOT NULL DEFAULT '';
    ALTER TABLE sessions ADD COLUMN suggestion TEXT NOT NULL DEFAULT '';
    ALTER TABLE steps ADD COLUMN duration_s REAL NOT NULL DEFAULT 0;
    ALTER TABLE steps ADD COLUMN note TEXT NOT NULL DEFAULT '';
    CREATE INDEX steps_by_session ON steps(session_id);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def default_db_path() -> Path:
    """``$SPINERELEASE_DB`` or ``<user data dir>/spinerelease/history.sqlite``."""
    env = os.environ.get("SPINERELEASE_DB")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("spinerelease")) / "history.sqlite"


@dataclass(frozen=True)
class SessionRow:
    id: int
    started_at: datetime
    finished_at: datetime | None
    tool: str
    target: str
    level: str
    forearm_support: float
    status: str
    note: str
    mean_pain: float | None
    steps_done: int


class HistoryStore:
    """The coach's history database.

    Parameters
    ----------
    path : path, optional
        Database file (created if missing, with its folder).
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_db_path()
        if self.path.exists():
            if self.path.is_dir():
                raise InputError(f"history path {self.path} is a folder, not a database file")
            with open(self.path, "rb") as fh:
                head = fh.read(16)
            if head and head != b"SQLite format 3\x00":
                raise InputError(
                    f"{self.path} is not a spinerelease history database (not SQLite, or corrupted); "
                    "it was left untouched - move it away or pass another --db"
                )
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA foreign_keys = ON")
            ok = self.conn.execute("PRAGMA quick_check").fetchone()[0]
            if ok != "ok":
                raise InputError(f"{self.path} is corrupted ({ok}); it was left untouched")
            app = self.conn.execute("PRAGMA application_id").fetchone()[0]
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            tables = self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise InputError(
                f"{self.path} is not a readable spinerelease history ({exc}); it was left untouched"
            ) from None
        if tables and app != APP_ID:
            self.conn.close()
            raise InputError(f"{self.path} is an SQLite file of another program; it was left untouched")
        if version > SCHEMA_VERSION:
            self.conn.close()
            raise InputError(
                f"{self.path} was written by a newer spinerelease (schema {version} > "
                f"{SCHEMA_VERSION}); upgrade spinerelease to read it"
            )
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = FULL")
        self._migrate(version)

    def _migrate(self, version: int) -> None:
        for v in range(version, SCHEMA_VERSION):
            with self.transaction() as c:
                for stmt in MIGRATIONS[v].split(";"):
                    if stmt.strip():
                        c.execute(stmt)
                c.execute(f"PRAGMA user_version = {v + 1}")
                c.execute(f"PRAGMA application_id = {APP_ID}")

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (rolled back on error)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()

    # -- meta ---------------------------------------------------------------------------------------------------
    def _set(self, key: str, value: Any) -> None:
        with self.transaction() as c:
            c.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, json.dumps(value)))

    def _get(self, key: str, default: Any = None) -> Any:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def acknowledge_disclaimer(self, when: datetime) -> None:
        self._set("disclaimer_acknowledged", when.isoformat())

    def disclaimer_acknowledged(self) -> bool:
        return self._get("disclaimer_acknowledged") is not None

    def save_profile(self, profile: dict) -> None:
        self._set("profile", profile)

    def profile(self) -> dict | None:
        return self._get("profile")

    # -- sessions -----------------------------------------------------------------------------------------------
    def start_session(
        self, when: datetime, tool: str, target: str, level: str, forearm_support: float, suggestion: str = ""
    ) -> int:
        with self.transaction() as c:
            cur = c.execute(
                "INSERT INTO sessions(started_at, tool, target, level, forearm_support, suggestion) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (when.isoformat(), tool, target, level, float(forearm_support), suggestion),
            )
            return int(cur.lastrowid)

    def record_step(
        self,
        session_id: int,
        step_key: str,
        started: datetime,
        finished: datetime,
        status: str,
        pain: int | None,
        repeat_index: int = 0,
        duration_s: float = 0.0,
        note: str = "",
    ) -> int:
        """Store one completed (or skipped) step in its own transaction."""
        if status not in ("done", "skipped"):
            raise InputError(f"step status must be done or skipped, got {status!r}")
        if pain is not None and not (isinstance(pain, int) and 0 <= pain <= 10):
            raise InputError(f"pain rating must be a whole number from 0 to 10, got {pain!r}")
        with self.transaction() as c:
            cur = c.execute(
                "INSERT INTO steps(session_id, step_key, started_at, finished_at, status, pain, "
                "repeat_index, duration_s, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session_id,
                    step_key,
                    started.isoformat(),
                    finished.isoformat(),
                    status,
                    pain,
                    repeat_index,
                    duration_s,
                    note,
                ),
            )
            return int(cur.lastrowid)

    def finish_session(self, session_id: int, when: datetime, status: str = "completed", note: str = "") -> None:
        with self.transaction() as c:
            c.execute(
                "UPDATE sessions SET finished_at = ?, status = ?, note = ? WHERE id = ?",
                (when.isoformat(), status, note, session_id),
            )

    def sessions(self) -> list[SessionRow]:
        rows = self.conn.execute(
            "SELECT s.*, (SELECT avg(pain) FROM steps WHERE session_id = s.id AND pain IS NOT NULL) AS mean_pain, "
            "(SELECT count(*) FROM steps WHERE session_id = s.id AND status = 'done') AS steps_done "
            "FROM sessions s ORDER BY s.started_at, s.id"
        ).fetchall()
        return [
            SessionRow(
                r["id"],
                datetime.fromisoformat(r["started_at"]),
                datetime.fromisoformat(r["finished_at"]) if r["finished_at"] else None,
                r["tool"],
                r["target"],
                r["level"],
                r["forearm_support"],
                r["status"],
                r["note"],
                r["mean_pain"],
                r["steps_done"],
            )
            for r in rows
        ]

    def steps(self, session_id: int | None = None) -> list[dict]:
        q = "SELECT * FROM steps" + (" WHERE session_id = ?" if session_id is not None else "") + " ORDER BY id"
        return [dict(r) for r in self.conn.execute(q, () if session_id is None else (session_id,))]

    # -- export / delete ----------------------------------------------------------------------------------------
    def export_json(self, path: str | Path) -> Path:
        data = {
            "schema_version": self.schema_version,
            "profile": self.profile(),
            "sessions": [dict(r) for r in self.conn.execute("SELECT * FROM sessions ORDER BY id")],
            "steps": self.steps(),
        }
        return _atomic_text(Path(path), json.dumps(data, indent=2))

    def export_csv(self, path: str | Path) -> Path:
        rows = self.conn.execute(
            "SELECT s.id AS session_id, s.started_at AS session_started, s.tool, s.target, s.level, "
            "s.forearm_support, s.status AS session_status, t.step_key, t.started_at, t.finished_at, "
            "t.status, t.pain, t.repeat_index, t.duration_s FROM steps t JOIN sessions s ON s.id = t.session_id "
            "ORDER BY t.id"
        ).fetchall()
        import io

        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(rows[0].keys() if rows else ["session_id", "step_key", "pain"])
        for r in rows:
            w.writerow(list(r))
        return _atomic_text(Path(path), buf.getvalue())

    def delete_all(self) -> int:
        """Delete every session and step (profile and acknowledgement kept). Returns sessions deleted."""
        with self.transaction() as c:
            n = c.execute("SELECT count(*) FROM sessions").fetchone()[0]
            c.execute("DELETE FROM steps")
            c.execute("DELETE FROM sessions")
        return int(n)


def _atomic_text(path: Path, text: str) -> Path:
    import tempfile

    if path.exists() and path.is_dir():
        raise InputError(f"{path} is a folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
    os.replace(tmp, path)
    return path
