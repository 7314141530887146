"""Background jobs that scale out (R-OPS-3): any number of worker processes share one
database without doing a job twice.

- a **periodic** job runs once per interval across all processes: the worker that wins the
  job's row (a conditional UPDATE with a lease, :mod:`paygate.repositories.jobs`) runs it;
- a **claiming** job runs in every worker at once: each run claims its own rows with
  ``FOR UPDATE SKIP LOCKED`` and a lease (:mod:`paygate.repositories.claims`), and runs
  again at once while it finds work.

Other services add theirs to the :class:`JobRegistry` in ``bootstrap.py``; see
docs/architecture.md ("Workers and jobs").
"""

from paygate.jobs.registry import Job, JobKind, JobRegistry
from paygate.jobs.runner import JobRunner

__all__ = ["Job", "JobKind", "JobRegistry", "JobRunner"]
