"""Job records in SQLite, so a daemon that dies keeps what it finished and redoes the rest.

One row per job: what was asked (address, request JSON, cache key), where replies
go, its state (``queued``, ``running``, ``done``, ``error``, ``cancelled``),
progress, and the result or error. Writes are committed at once (WAL journal), so
a ``kill -9`` loses at most the progress of the job that was running, which is
then queued again at start-up.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional

STATES = ("queued", "running", "done", "error", "cancelled")
UNFINISHED = ("queued", "running")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    address TEXT NOT NULL,
    request TEXT NOT NULL,
    cache_key TEXT NOT NULL,
    reply_host TEXT NOT NULL,
    reply_port INTEGER NOT NULL,
    state TEXT NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    result TEXT,
    error_code TEXT,
    error TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_key ON jobs (cache_key, state);
"""


@dataclass(frozen=True)
class Job:
    id: str
    address: str
    request: dict[str, Any]
    cache_key: str
    reply_host: str
    reply_port: int
    state: str
    progress: float
    result: Optional[dict[str, Any]]
    error_code: Optional[str]
    error: Optional[str]
    created: float
    updated: float
    attempts: int = 0  # runs that a dead worker interrupted

    def summary(self) -> dict[str, Any]:
        d = asdict(self)
        del d["request"], d["cache_key"], d["reply_host"], d["reply_port"]
        return d


class JobStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(jobs)")}
        if "attempts" not in columns:  # a workdir from before retries were counted
            self._db.execute("ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0")

    def _row(self, row: Optional[tuple]) -> Optional[Job]:
        if row is None:
            return None
        (jid, address, request, key, host, port, state, progress, result, code, error, created, updated,
         attempts) = row
        return Job(jid, address, json.loads(request), key, host, int(port), state, float(progress),
                   json.loads(result) if result else None, code, error, float(created), float(updated),
                   int(attempts))

    def add(self, jid: str, address: str, request: dict[str, Any], key: str, reply: tuple[str, int],
            state: str = "queued", result: Optional[dict[str, Any]] = None) -> Job:
        now = time.time()
        with self._lock:
            self._db.execute(
                "INSERT INTO jobs (id, address, request, cache_key, reply_host, reply_port, state, progress, result, "
                "error_code, error, created, updated) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (jid, address, json.dumps(request), key, reply[0], reply[1], state, 1.0 if result else 0.0,
                 json.dumps(result) if result is not None else None, None, None, now, now),
            )
        job = self.get(jid)
        assert job is not None
        return job

    def get(self, jid: str) -> Optional[Job]:
        with self._lock:
            return self._row(self._db.execute("SELECT * FROM jobs WHERE id=?", (jid,)).fetchone())

    def update(self, jid: str, **fields: Any) -> None:
        cols, vals = [], []
        for k, v in fields.items():
            if k == "result":
                v = json.dumps(v)
            cols.append(f"{k}=?")
            vals.append(v)
        cols.append("updated=?")
        vals.append(time.time())
        with self._lock:
            self._db.execute(f"UPDATE jobs SET {', '.join(cols)} WHERE id=?", (*vals, jid))

    def cached(self, key: str) -> Optional[Job]:
        """The newest finished job with this cache key."""
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM jobs WHERE cache_key=? AND state='done' ORDER BY updated DESC LIMIT 1", (key,)
            ).fetchone()
        return self._row(row)

    def unfinished(self) -> list[Job]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM jobs WHERE state IN ('queued','running') ORDER BY created").fetchall()
        return [j for j in (self._row(r) for r in rows) if j is not None]

    def recent(self, limit: int = 20) -> list[Job]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM jobs ORDER BY created DESC LIMIT ?", (limit,)).fetchall()
        return [j for j in (self._row(r) for r in rows) if j is not None]

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall()
        return {s: int(n) for s, n in rows}

    def close(self) -> None:
        with self._lock:
            self._db.close()
