"""The store's side of the voice library: its voices, names on its sessions, prints kept and speakers
recognised as a diarized session is saved, labels dropped with a closed session. Called from
:class:`~aero_agent.store.SessionStore` in a line each."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from aero_agent.voices.service import Voices
from aero_agent.voices.sessionprints import FILE, save_prints

if TYPE_CHECKING:
    from aero_agent.results import SearchHit
    from aero_agent.session import AudioSession
    from aero_agent.store import SessionStore


def store_voices(store: "SessionStore") -> Voices:
    """The store's voice library; sessions still encoding hold the voices they use."""

    def encoding() -> set[str]:
        return {info.id for info in store.list() if info.status == "encoding"}

    return Voices(store.root, encoding)


def attach(store: "SessionStore", session: "AudioSession") -> None:
    """Show recognised speakers of ``session`` by their voice names (read from the library each time)."""
    voices = Voices(store.root)
    session.speaker_voices = lambda: voices.voices_of(session.id)


def keep_prints(root: Path, session: "AudioSession") -> None:
    """Save the prints of a fresh diarization in the session's folder and recognise its speakers (its old
    labels refer to an older diarization's speakers and are replaced)."""
    prints, session.speaker_prints = session.speaker_prints, None
    folder = root / session.id
    if prints is None or not folder.exists():
        return
    transcript = session.encoded.transcript if session.encoded is not None else None
    talk = {s.speaker: s.talk_time_s for s in transcript.speakers()} if transcript is not None else {}
    save_prints(folder, prints, talk)
    voices = Voices(root)
    data = voices.library.read()
    if data.voices or session.id in data.labels:
        voices.identify([session.id], fresh=True)


def forget_session(store: "SessionStore", session_id: str) -> None:
    Voices(store.root).drop_session(session_id)


def named_hits(store: "SessionStore", hits: list["SearchHit"]) -> list["SearchHit"]:
    """Library hits with their recognised speakers shown by voice name."""
    voices = Voices(store.root)
    names: dict[str, dict[str, str]] = {}
    out = []
    for hit in hits:
        if hit.speaker and hit.session_id:
            shown = names.setdefault(hit.session_id, voices.names(hit.session_id))
            if hit.speaker in shown:
                hit = hit.model_copy(update={"speaker": shown[hit.speaker]})
        out.append(hit)
    return out


def identify_adopted(store: "SessionStore", session_id: str) -> None:
    """Recognise the library's voices in a session an indexing worker made (its prints came with its files)."""
    voices = Voices(store.root)
    if (store.root / session_id / FILE).exists() and voices.library.read().voices:
        voices.identify([session_id], fresh=True)
