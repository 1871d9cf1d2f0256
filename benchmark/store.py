"""Persist task results in the run directory as soon as each task finishes.

Results live in an SQLite database (``results.sqlite``) written by the main
process only; workers return results instead of writing, so there is a single
writer. Every result is committed on arrival, so a run killed mid-way loses
no finished task, and a run restarted on the same directory skips them. The
database runs in WAL mode with ``synchronous=NORMAL``: a commit survives the
writing process being killed, though the last commits may be lost if the
operating system crashes. ``scores.csv`` is exported from the database for
the tasks of one run.

The ``attempts`` table has one row per dispatch of a task to a worker: the
device, the worker (``host:pid``), start and end times, and the outcome
(``running``, ``finished``, ``died``, ``timed out``, or ``lost`` when the run
stopped before the task returned). It shows which tasks were running when a
worker or the whole run died.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from benchmark.evaluation import TaskResult

__all__ = ["SCORE_COLUMNS", "ResultStore"]

RUNNING = "running"
LOST = "lost"

SCORE_COLUMNS = [
    "dataset",
    "sampler",
    "classifier",
    "repeat",
    "fold",
    "metric",
    "value",
]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    key TEXT PRIMARY KEY,
    dataset TEXT NOT NULL,
    sampler TEXT NOT NULL,
    classifier TEXT NOT NULL,
    repeat INTEGER NOT NULL,
    fold INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL,
    error TEXT NOT NULL,
    traceback TEXT NOT NULL,
    notes TEXT NOT NULL,
    duration REAL NOT NULL,
    device TEXT NOT NULL,
    n_train INTEGER NOT NULL,
    n_resampled INTEGER NOT NULL,
    finished_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS scores (
    key TEXT NOT NULL REFERENCES tasks(key),
    metric TEXT NOT NULL,
    value REAL,
    note TEXT NOT NULL,
    PRIMARY KEY (key, metric)
);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    device TEXT NOT NULL,
    worker TEXT NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    outcome TEXT NOT NULL
);
"""


class ResultStore:
    """The SQLite database of one run directory."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(self.path, timeout=60)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=NORMAL")
        self._connection.executescript(_SCHEMA)

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def keys(self, status: str | None = None) -> set[str]:
        """Return the keys of stored tasks, optionally only those with ``status``."""
        if status is None:
            rows = self._connection.execute("SELECT key FROM tasks")
        else:
            rows = self._connection.execute(
                "SELECT key FROM tasks WHERE status = ?", (status,)
            )
        return {key for (key,) in rows}

    def record(
        self,
        result: TaskResult,
        attempt: int | None = None,
        outcome: str = "finished",
    ) -> None:
        """Store one result, replacing an earlier result of the same task.

        ``attempt`` is the id from :meth:`start_attempt`; that row gets its end
        time and ``outcome`` in the same transaction.
        """
        with self._connection:
            self._connection.execute("DELETE FROM scores WHERE key = ?", (result.key,))
            self._connection.execute(
                "INSERT OR REPLACE INTO tasks VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    result.key,
                    result.dataset,
                    result.sampler,
                    result.classifier,
                    result.repeat,
                    result.fold,
                    result.seed,
                    result.status,
                    result.error,
                    result.traceback,
                    json.dumps(result.notes),
                    result.duration,
                    result.device,
                    result.n_train,
                    result.n_resampled,
                    time.time(),
                ),
            )
            self._connection.executemany(
                "INSERT INTO scores VALUES (?, ?, ?, ?)",
                [(result.key, m, v, note) for m, v, note in result.scores],
            )
            if attempt is not None:
                self._end_attempt(attempt, outcome, result.worker)

    def start_attempt(self, key: str, device: str, worker: str) -> int:
        """Record that a task was sent to ``worker`` and return the attempt's id."""
        with self._connection:
            cursor = self._connection.execute(
                "INSERT INTO attempts (key, device, worker, started_at, outcome) "
                "VALUES (?, ?, ?, ?, ?)",
                (key, device, worker, time.time(), RUNNING),
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def end_attempt(self, attempt: int, outcome: str) -> None:
        """Record the end of an attempt that produced no result, such as a death."""
        with self._connection:
            self._end_attempt(attempt, outcome, "")

    def _end_attempt(self, attempt: int, outcome: str, worker: str) -> None:
        # A dask worker is known only once the result names it.
        self._connection.execute(
            "UPDATE attempts SET finished_at = ?, outcome = ?, "
            "worker = CASE WHEN ? != '' THEN ? ELSE worker END WHERE id = ?",
            (time.time(), outcome, worker, worker, attempt),
        )

    def mark_lost_attempts(self) -> int:
        """Mark attempts left ``running`` by a run that stopped as ``lost``.

        Call this only while no other process runs tasks into this store.
        Returns the number of attempts marked.
        """
        with self._connection:
            cursor = self._connection.execute(
                "UPDATE attempts SET outcome = ? WHERE outcome = ?", (LOST, RUNNING)
            )
        return cursor.rowcount

    def attempts_frame(self) -> pd.DataFrame:
        """Return every attempt, oldest first."""
        return pd.read_sql_query("SELECT * FROM attempts ORDER BY id", self._connection)

    def tasks_frame(self, keys: Iterable[str] | None = None) -> pd.DataFrame:
        """Return one row per stored task, restricted to ``keys`` if given."""
        frame = pd.read_sql_query("SELECT * FROM tasks", self._connection)
        if keys is not None:
            frame = frame[frame["key"].isin(set(keys))]
        frame["notes"] = frame["notes"].map(json.loads)
        return frame.sort_values(["dataset", "sampler", "classifier", "repeat", "fold"])

    def scores_frame(self, keys: Iterable[str] | None = None) -> pd.DataFrame:
        """Return the tidy score table: one row per task and metric.

        Columns are :data:`SCORE_COLUMNS` plus ``note``, which contains the reason
        when ``value`` is missing because the metric is undefined on that fold.
        """
        frame = pd.read_sql_query(
            "SELECT t.key, t.dataset, t.sampler, t.classifier, t.repeat, t.fold, "
            "s.metric, s.value, s.note FROM scores s JOIN tasks t ON s.key = t.key "
            "WHERE t.status = 'ok'",
            self._connection,
        )
        if keys is not None:
            frame = frame[frame["key"].isin(set(keys))]
        frame = frame.drop(columns="key")
        order = ["dataset", "sampler", "classifier", "repeat", "fold", "metric"]
        return frame.sort_values(order).reset_index(drop=True)
