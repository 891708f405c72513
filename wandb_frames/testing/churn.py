"""A mutating server for consistency tests: runs deleted, moved and added between listing pages.

A real project changes while a client pages through it: runs are deleted, running runs'
``heartbeatAt`` moves them under ``order="-heartbeat_at"``, new runs appear at the front of
``-created_at``. With offset cursors (``arrayconnection:N``) every such change shifts the
runs after it, so a plain page-by-page scan can skip or repeat runs. :class:`ListingChurn`
makes :class:`~wandb_frames.testing.LocalServer` do exactly that, deterministically::

    churn = ListingChurn("ent", "proj", changes=[
        RunsChange(after_page=1, delete=("run003", "run007")),      # after the 1st page
        RunsChange(after_page=2, to_front=("run042",)),              # after the 2nd page
    ])
    with LocalServer(churn=churn) as server:   # or server.set_churn(churn) once seeded
        ...
        server.churn_events   # [ChurnEvent(page=1, deleted=("run003", "run007"), ...), ...]

or seeded: ``ListingChurn("ent", "proj", random=RandomChurn(seed=1, delete=2, to_front=1))``
deletes 2 and moves 1 random run after every page.

What counts as a *page*: one evaluation of ``Project.runs`` (a runs connection, whatever its
``first``/``after``/``filters``/``order``) of the churned project in a ``/graphql`` request,
numbered from 1 in the order the server resolves them; with ``only_operations`` set, only
requests with one of those GraphQL operation names count (e.g. ``{"RunsPage"}`` to leave a
client's ID-batched fetches out). The changes due after page ``k`` are applied when the
request that served page ``k`` has been executed and before its answer is sent: the answer
shows the state before the change, and every request the client sends after reading it sees
the state after (requests already executing concurrently may see either). ``runCount`` and
the connections' ``totalCount`` always count the current state.

For a consistency test: the runs a complete listing must hold are the runs seeded before
the scan minus every ``ChurnEvent.deleted`` (each exactly once); runs in ``inserted`` may or
may not appear (at most once); ``moved``/``updated`` runs must appear exactly once.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from wandb_frames.testing.records import RunRecord
from wandb_frames.testing.store import ProjectStore, Store, StoredRun

__all__ = ["ChurnEvent", "ListingChurn", "ListingChurner", "RandomChurn", "RunsChange"]


@dataclass(frozen=True)
class RunsChange:
    """One scripted change, applied after the ``after_page``-th page (1-based) was served.

    Args:
        after_page: the page after which to apply it.
        delete: run IDs to delete (unknown IDs are skipped; see :class:`ChurnEvent`).
        to_front: run IDs whose ``heartbeatAt`` (and ``updatedAt``) become later than every
            run's, in this order: first of ``order="-heartbeat_at"`` (last of
            ``+heartbeat_at``), as a run that is still logging.
        update: run ID -> record fields to replace (:class:`~wandb_frames.testing.RunRecord`
            keys, e.g. ``{"created_at": datetime(...)}`` to move a run under ``-created_at``,
            ``{"summary": {...}}`` to change a ``summary_metrics.X`` order key).
        insert: new run records (IDs already present are replaced, in place).
    """

    after_page: int
    delete: Sequence[str] = ()
    to_front: Sequence[str] = ()
    update: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    insert: Sequence[RunRecord] = ()

    def __post_init__(self) -> None:
        if self.after_page < 1:
            raise ValueError("after_page counts pages from 1")
        for name in ("delete", "to_front", "insert"):
            value = getattr(self, name)
            if isinstance(value, str):
                raise TypeError(f"{name} takes a sequence of run IDs, not one string")
            object.__setattr__(self, name, tuple(value))


@dataclass(frozen=True)
class RandomChurn:
    """Seeded random changes after pages ``first_page, first_page + every, ...`` (to ``last_page``).

    Each time, from the project's current runs sorted by ID: ``delete`` runs are deleted,
    ``to_front`` other runs move to the front of ``-heartbeat_at`` (as in
    :attr:`RunsChange.to_front`), and ``insert`` new runs ``churn00000, churn00001, ...`` are
    added (state ``running``, ``created_at``/``heartbeat_at`` later than every run's: first of
    ``-created_at``). The same requests in the same order give the same changes.
    """

    seed: int = 0
    delete: int = 0
    to_front: int = 0
    insert: int = 0
    every: int = 1
    first_page: int = 1
    last_page: int | None = None

    def __post_init__(self) -> None:
        if min(self.delete, self.to_front, self.insert) < 0 or self.every < 1 or self.first_page < 1:
            raise ValueError("counts must be >= 0, every and first_page >= 1")

    def due(self, page: int) -> bool:
        """Whether a change follows page ``page``."""
        if page < self.first_page or (self.last_page is not None and page > self.last_page):
            return False
        return (page - self.first_page) % self.every == 0


@dataclass(frozen=True)
class ListingChurn:
    """Changes to the runs of project ``entity/project`` between pages of its runs listings.

    Args:
        entity, project: the churned project (pages of other projects are not counted).
        changes: scripted :class:`RunsChange` steps (several may share a page).
        random: seeded :class:`RandomChurn`, applied after the scripted steps of a page.
        only_operations: count only pages served to these GraphQL operation names.
    """

    entity: str
    project: str
    changes: Sequence[RunsChange] = ()
    random: RandomChurn | None = None
    only_operations: Iterable[str] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "changes", tuple(self.changes))
        if self.only_operations is not None:
            object.__setattr__(self, "only_operations", frozenset(self.only_operations))


@dataclass(frozen=True)
class ChurnEvent:
    """What was changed after page ``page`` (served to operation ``operation``).

    ``deleted``/``moved``/``updated`` hold only IDs that existed when the change was applied;
    ``inserted`` the IDs added (or replaced).
    """

    page: int
    operation: str | None
    deleted: tuple[str, ...] = ()
    moved: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    inserted: tuple[str, ...] = ()


class ListingChurner:
    """Runtime of a :class:`ListingChurn`: counts pages, applies due changes, logs events."""

    def __init__(self, churn: ListingChurn) -> None:
        self.churn = churn
        self.pages = 0
        self.events: list[ChurnEvent] = []
        self._lock = threading.Lock()
        self._pending = threading.local()
        self._rng = random.Random(churn.random.seed if churn.random else 0)
        self._inserted = 0

    def note_page(self, project: ProjectStore, operation: str | None) -> None:
        """A runs page of ``project`` was resolved for ``operation`` (on this thread)."""
        churn = self.churn
        if (project.entity, project.name) != (churn.entity, churn.project):
            return
        only = churn.only_operations
        if only is not None and operation not in only:  # type: ignore[operator]
            return
        with self._lock:
            self.pages += 1
            page = self.pages
        pending: list[tuple[int, str | None]] = getattr(self._pending, "pages", [])
        pending.append((page, operation))
        self._pending.pages = pending

    def discard_pending(self) -> None:
        """Forget this thread's noted pages (their request failed before it was answered)."""
        self._pending.pages = []

    def apply_pending(self, store: Store) -> None:
        """Apply the changes due after the pages this thread's request served."""
        pending: list[tuple[int, str | None]] = getattr(self._pending, "pages", [])
        self._pending.pages = []
        for page, operation in pending:
            with store.lock:
                project = store.project(self.churn.entity, self.churn.project)
                if project is None:
                    continue
                for change in self.churn.changes:
                    if change.after_page == page:
                        self._record(self._apply(store, project, change, page, operation))
                random_churn = self.churn.random
                if random_churn is not None and random_churn.due(page):
                    self._record(self._apply(store, project, self._draw(project, random_churn, page),
                                             page, operation))

    def _record(self, event: ChurnEvent) -> None:
        with self._lock:
            self.events.append(event)

    def _draw(self, project: ProjectStore, spec: RandomChurn, page: int) -> RunsChange:
        ids = sorted(project.runs)
        deleted = self._rng.sample(ids, min(spec.delete, len(ids)))
        rest = sorted(set(ids) - set(deleted))
        moved = self._rng.sample(rest, min(spec.to_front, len(rest)))
        newest = max((r.doc["createdAt"] for r in project.runs.values()), default=None)
        inserted: list[RunRecord] = []
        for i in range(spec.insert):
            record: RunRecord = {"id": f"churn{self._inserted:05d}", "state": "running",
                                 "config": {"churn": self._inserted}, "summary": {"churn_page": page}}
            if newest is not None:
                record["created_at"] = record["heartbeat_at"] = newest + timedelta(seconds=spec.insert - i)
            inserted.append(record)
            self._inserted += 1
        return RunsChange(page, delete=deleted, to_front=moved, insert=inserted)

    @staticmethod
    def _apply(store: Store, project: ProjectStore, change: RunsChange, page: int,
               operation: str | None) -> ChurnEvent:
        deleted = []
        for run_id in change.delete:
            run = project.runs.get(run_id)
            if run is not None:
                store.delete_run(run)
                deleted.append(run_id)
        moved = [run_id for run_id in change.to_front if run_id in project.runs]
        latest = max((r.doc["heartbeatAt"] for r in project.runs.values()), default=None)
        replaced: list[RunRecord] = []
        for i, run_id in enumerate(moved):
            assert latest is not None  # some run exists
            replaced.append(_changed(project.runs[run_id],
                                     {"heartbeat_at": latest + timedelta(seconds=len(moved) - i)}))
        updated = [run_id for run_id in change.update if run_id in project.runs]
        replaced.extend(_changed(project.runs[run_id], change.update[run_id]) for run_id in updated)
        store.put_runs(project, [*replaced, *change.insert])
        return ChurnEvent(page, operation, tuple(deleted), tuple(moved), tuple(updated),
                          tuple(r["id"] for r in change.insert))


def _changed(run: StoredRun, fields: Mapping[str, Any]) -> RunRecord:
    """``run``'s record with ``fields`` replaced; its dates kept unless replaced."""
    record: RunRecord = {**run.record}
    record["created_at"] = run.doc["createdAt"]
    record["heartbeat_at"] = run.doc["heartbeatAt"]
    record.update(fields)  # type: ignore[typeddict-item]
    return record
