"""Index whole archives: every recording under some folders opened once as a session (transcript, speakers
when asked, passage embeddings, tags) and searchable as one library; resumable, on one machine or on Ray."""

from aero_agent.archive.discovery import MEDIA_EXTENSIONS, SourceFile, discover
from aero_agent.archive.job import IndexOptions, run_index
from aero_agent.archive.summary import FileDone, FileFailure, IndexSummary
from aero_agent.archive.worker import EngineOptions

__all__ = ["EngineOptions", "FileDone", "FileFailure", "IndexOptions", "IndexSummary", "MEDIA_EXTENSIONS",
           "SourceFile", "discover", "run_index"]
