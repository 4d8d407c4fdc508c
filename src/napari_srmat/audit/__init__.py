"""Expert audit of hallucinated grain boundaries in super-resolved micrographs.

* :func:`find_candidates` / :func:`find_candidates_job` -- ranked suspicious regions
  (data consistency, new boundaries without LR support, diffusion sample spread).
* :class:`AuditSession` -- the review queue, verdicts and their atomic JSON/CSV log.
* :func:`write_report` -- Markdown report with thumbnails and hallucination density.
"""

from .detector import (
    KINDS,
    AuditInputError,
    Candidate,
    CandidateList,
    bicubic_degrade,
    default_boundary_map,
    degrade,
    find_candidates,
    find_candidates_job,
    resolve_degrade,
    upscale_bicubic,
)
from .report import summarize, write_report
from .session import VERDICTS, AddedRegion, AuditFileError, AuditSession, Decision, checksum
from .synthetic import InjectedLine, bbox_overlap, inject_false_boundaries, recall_at

__all__ = [
    "KINDS",
    "VERDICTS",
    "AuditInputError",
    "AuditFileError",
    "Candidate",
    "CandidateList",
    "AuditSession",
    "Decision",
    "AddedRegion",
    "checksum",
    "bicubic_degrade",
    "degrade",
    "resolve_degrade",
    "default_boundary_map",
    "upscale_bicubic",
    "find_candidates",
    "find_candidates_job",
    "summarize",
    "write_report",
    "InjectedLine",
    "inject_false_boundaries",
    "bbox_overlap",
    "recall_at",
]
