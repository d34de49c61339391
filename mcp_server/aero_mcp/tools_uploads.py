"""Tools that upload a recording in chunks, for a client on another machine whose recording is too long for
``open_audio``'s ``audio_base64``: start_upload, append_upload (in order, each chunk at its offset), finish_upload
(which opens it like open_audio). The chunks are the recording's file bytes, in any format a file may have."""

# No ``from __future__ import annotations``: the SDK reads these signatures at registration time.

from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from aero_mcp.registry import OPENS, App, AppState, NumSpeakers, SpeakersArg, result, tool
from aero_mcp.models import OpenAudioResult
from aero_mcp.tools_sessions import Language, TaskArg, open_source
from aero_mcp.tools_vocabulary import VocabularyArg
from aero_mcp.uploads import MAX_CHUNK_CHARS, decode_base64

UploadId = Annotated[str, Field(min_length=1, max_length=64, description="The upload_id start_upload returned.")]


class UploadProgress(BaseModel):
    """An upload in progress."""

    upload_id: str
    received_bytes: int = Field(description="Bytes received so far: the offset of the next chunk.")
    max_bytes: int | None = Field(description="The most bytes a recording may have.")
    max_chunk_chars: int = Field(description="The most base64 characters one append_upload may carry.")
    message: str


def _progress(app: AppState, upload_id: str, received: int, message: str) -> CallToolResult:
    progress = UploadProgress(upload_id=upload_id, received_bytes=received, max_bytes=app.config.max_bytes,
                              max_chunk_chars=MAX_CHUNK_CHARS, message=message)
    return result(progress, message)


@tool("Start an upload", OPENS)
async def start_upload(
    app: App,
    filename: Annotated[str | None, Field(max_length=255, description=(
        "The recording's file name; its extension tells the format (e.g. meeting.mp3)."))] = None,
) -> Annotated[CallToolResult, UploadProgress]:
    """Start sending a recording in chunks (for a recording too large for open_audio's audio_base64). Then
    call append_upload with each chunk in order, and finish_upload to open it. Nothing is fetched from URLs."""
    upload_id = await app.backend.run(app.tenant.uploads.start, filename, what="starting the upload")
    return _progress(app, upload_id, 0, f"Upload {upload_id} started: send the file's bytes with append_upload "
                                        "(base64, offset 0 first), then call finish_upload.")


@tool("Append to an upload", OPENS)
async def append_upload(
    app: App,
    upload_id: UploadId,
    offset: Annotated[int, Field(ge=0, description="Where this chunk starts in the file: the bytes sent so far.")],
    chunk_base64: Annotated[str, Field(min_length=1, max_length=MAX_CHUNK_CHARS,
                                       description="The next bytes of the file, base64-encoded.")],
) -> Annotated[CallToolResult, UploadProgress]:
    """Append the next chunk of an upload. A chunk sent again (a retry) is refused with the offset expected,
    so nothing is appended twice."""
    data = decode_base64(chunk_base64, "chunk_base64")
    received = await app.backend.run(app.tenant.uploads.append, upload_id, offset, data, what="saving the chunk")
    return _progress(app, upload_id, received, f"{received} bytes received; send the next chunk at offset "
                                               f"{received}, or call finish_upload.")


@tool("Finish an upload and open it", OPENS)
async def finish_upload(
    app: App,
    upload_id: UploadId,
    sha256: Annotated[str | None, Field(min_length=64, max_length=64, description=(
        "The file's SHA-256 in hex: when given, the upload is checked against it."))] = None,
    wait_s: Annotated[float | None, Field(ge=0, description="As for open_audio.")] = None,
    speakers: SpeakersArg = False,
    num_speakers: NumSpeakers = None,
    language: Language = None,
    task: TaskArg = "transcribe",
    vocabulary: VocabularyArg = None,
    ctx: Context | None = None,
) -> Annotated[CallToolResult, OpenAudioResult]:
    """Finish an upload and open the recording as open_audio does (same checks, same result: a session_id)."""
    path, _ = await app.backend.run(app.tenant.uploads.finish, upload_id, sha256, what="saving the upload")
    return await open_source(app, path, wait_s, True, speakers, num_speakers, language, task, ctx,
                             vocabulary=vocabulary)
