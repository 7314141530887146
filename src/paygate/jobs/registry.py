"""The job interface and the registry that ``bootstrap.py`` fills."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

__all__ = ["Job", "JobKind", "JobRegistry", "RegisteredJob"]


@runtime_checkable
class Job(Protocol):
    """A unit of background work.

    ``name`` is unique and stable (it names the job's row and its logs). ``interval`` is in
    seconds: how often a periodic job runs, or how long a claiming job sleeps when it found
    nothing to do. ``run_once`` does one round and returns how many items it handled; it
    opens its own units of work and must be safe to repeat (a worker may die half-way).
    """

    name: str
    interval: float

    async def run_once(self) -> int: ...


class JobKind(StrEnum):
    PERIODIC = "periodic"  # once per interval across every worker process
    CLAIMING = "claiming"  # in every worker process; each run claims its own rows


@dataclass(frozen=True)
class RegisteredJob:
    job: Job
    kind: JobKind
    #: a periodic run that takes longer than this is given up (its lease ends): seconds
    timeout: float


@dataclass
class JobRegistry:
    """The jobs a worker runs. Fill it once, at start-up (``bootstrap.py``)."""

    entries: list[RegisteredJob] = field(default_factory=list)

    def periodic(self, job: Job, *, timeout: float | None = None) -> None:
        """Run ``job`` once per ``job.interval`` seconds, in one process at a time."""
        self._add(RegisteredJob(job, JobKind.PERIODIC, timeout or max(60.0, job.interval)))

    def claiming(self, job: Job) -> None:
        """Run ``job`` in every worker process, again at once while it returns more than 0."""
        self._add(RegisteredJob(job, JobKind.CLAIMING, 0.0))

    @property
    def names(self) -> list[str]:
        return [e.job.name for e in self.entries]

    def select(self, names: set[str] | None) -> list[RegisteredJob]:
        """The registered jobs named (all when ``names`` is None); an unknown name raises."""
        if names is None:
            return list(self.entries)
        unknown = names - set(self.names)
        if unknown:
            raise KeyError(f"unknown job(s) {', '.join(sorted(unknown))}; known: {', '.join(self.names)}")
        return [e for e in self.entries if e.job.name in names]

    def _add(self, entry: RegisteredJob) -> None:
        if entry.job.name in self.names:
            raise ValueError(f"a job named {entry.job.name!r} is already registered")
        if entry.job.interval <= 0:
            raise ValueError(f"job {entry.job.name!r}: the interval must be positive")
        self.entries.append(entry)
