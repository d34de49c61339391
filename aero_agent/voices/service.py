"""The voice library's operations over a store folder: enroll, name a session's speaker, identify, rename,
forget, list, and the names of a session's speakers (resolved when read, so a rename reaches every session)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from aero_agent.errors import InvalidArgumentError, SessionNotFoundError
from aero_agent.results import utc_now
from aero_agent.voices.errors import NoSpeechError, VoiceInUseError, VoiceNameTakenError, VoiceNotFoundError
from aero_agent.voices.identify import THRESHOLD, assign, voice_centroid
from aero_agent.voices.library import Label, LibraryData, Voice, VoiceLibrary, new_voice
from aero_agent.voices.models import SpeakerVoice, VoiceInfo
from aero_agent.voices.sessionprints import FILE as PRINTS
from aero_agent.voices.sessionprints import drop_speakers, load_prints, load_talk

MAX_NAME = 80
_LABEL = re.compile(r"^SPEAKER_\d{2,}$")
_SESSION = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def check_name(name: object) -> str:
    """A voice name: non-empty text of at most :data:`MAX_NAME` characters, not a ``SPEAKER_xx`` label."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidArgumentError(f"a voice name must be non-empty text, got {name!r}")
    name = " ".join(name.split())
    if len(name) > MAX_NAME or _LABEL.match(name) or any(not c.isprintable() for c in name):
        raise InvalidArgumentError(f"{name[:MAX_NAME]!r} cannot be a voice name (at most {MAX_NAME} printable "
                                   "characters, and not a SPEAKER_xx label)")
    return name


class Voices:
    """The voices of the store at ``root``. ``encoding`` gives the ids of sessions still encoding (a voice
    they use cannot be forgotten until they are done)."""

    def __init__(self, root: str | Path, encoding: Callable[[], set[str]] | None = None,
                 threshold: float = THRESHOLD) -> None:
        self.root = Path(root)
        self.library = VoiceLibrary(self.root)
        self.encoding = encoding or (lambda: set())
        self.threshold = threshold

    # ----- reading ------------------------------------------------------------------------------
    def list(self) -> list[VoiceInfo]:
        """Every voice, by name, with the sessions it was heard in, its talk time there and when last heard."""
        data = self.library.read()
        heard: dict[str, list[tuple[str, Label]]] = {}
        for sid, rows in data.labels.items():
            for label in rows.values():
                heard.setdefault(label.voice, []).append((sid, label))
        out = []
        for voice in data.voices.values():
            rows = heard.get(voice.id, [])
            out.append(VoiceInfo(id=voice.id, name=voice.name, sessions=sorted({sid for sid, _ in rows}),
                                 talk_time_s=round(sum(lab.talk_time_s for _, lab in rows), 2),
                                 last_heard=max((lab.at for _, lab in rows), default=None),
                                 samples=len(voice.sources), created=voice.created, updated=voice.updated))
        return sorted(out, key=lambda v: v.name.casefold())

    def voice(self, name: str) -> Voice:
        """The voice called ``name`` (case-insensitive) or with this id."""
        data = self.library.read()
        return _find(data, name)

    def names(self, session_id: str) -> dict[str, str]:
        """Speaker label -> voice name, for the session's recognised speakers."""
        data = self.library.read()
        rows = data.labels.get(session_id, {})
        return {spk: data.voices[lab.voice].name for spk, lab in rows.items() if lab.voice in data.voices}

    def speakers(self, session_id: str, labels: Iterable[str]) -> list[SpeakerVoice]:
        """Each of ``labels`` with its name, voice id and confidence when recognised."""
        data = self.library.read()
        rows = data.labels.get(session_id, {})
        out = []
        for spk in labels:
            lab = rows.get(spk)
            voice = data.voices.get(lab.voice) if lab is not None else None
            out.append(SpeakerVoice(speaker=spk) if voice is None or lab is None else
                       SpeakerVoice(speaker=spk, name=voice.name, voice_id=voice.id, confidence=lab.confidence,
                                    by=lab.by))
        return out

    def heard_in(self, name: str) -> dict[str, set[str]]:
        """Session id -> the speakers that are the voice ``name`` (their labels, and the name itself, as a loaded
        session's passages show it), for every session it was heard in."""
        data = self.library.read()
        voice = _find(data, name)
        out: dict[str, set[str]] = {}
        for sid, rows in data.labels.items():
            for spk, lab in rows.items():
                if lab.voice == voice.id:
                    out.setdefault(sid, {voice.name}).add(spk)
        return out

    # ----- teaching -----------------------------------------------------------------------------
    def enroll(self, name: str, files: Sequence[str | Path], merge: bool = False) -> VoiceInfo:
        """Learn ``name``'s voice from sample files of that voice alone (5 s to a few minutes each). A name
        already taken is refused unless ``merge`` (the samples then add to that voice). Every file is checked
        (readable, speech, one voice) before the library changes."""
        from aero_agent.audio import load_audio
        from aero_agent.voices.samples import sample_print

        name = check_name(name)
        if isinstance(files, (str, Path)) or not files:
            raise InvalidArgumentError("enroll needs a list of one or more sample files")
        self._check_free(name, merge)
        prints = []
        for path in files:
            clip = load_audio(Path(path).expanduser())
            prints.append((Path(path).name, sample_print(clip.samples, f"sample {Path(path).name}")))
        with self.library.change() as (data, staged):
            voice = data.by_name(name)
            if voice is not None and not merge:
                raise VoiceNameTakenError(f"the name {name!r} is taken; pass merge to add to its voice")
            voice = voice or _added(data, name)
            old = self.library.embeddings(voice) if voice.prints else np.zeros((0, 256), np.float32)
            staged.put(voice, np.concatenate([old] + [p.embeddings for _, p in prints]))
            now = utc_now()
            voice.sources += [{"kind": "file", "file": fname, "seconds": p.seconds, "at": now} for fname, p in prints]
            voice.updated = now
        return self._info(voice.id)

    def name_speaker(self, session_id: str, speaker: str, name: str) -> VoiceInfo:
        """Call ``speaker`` of a diarized session ``name``: labelled at once, and its clean speech added to the
        voice (created when new). Naming two speakers of one session alike merges them into one voice."""
        name = check_name(name)
        if not isinstance(speaker, str) or not speaker:
            raise InvalidArgumentError(f"speaker must be a label such as SPEAKER_01, got {speaker!r}")
        prints = self._session_prints(session_id)
        data = self.library.read()
        current = data.labels.get(session_id, {})
        by_name = {data.voices[lab.voice].name.casefold(): spk for spk, lab in current.items() if lab.voice in data.voices}
        speaker = by_name.get(speaker.casefold(), speaker)  # a recognised speaker may be named by its name
        if speaker not in prints:
            have = ", ".join(sorted(prints)) or "none"
            raise InvalidArgumentError(f"unknown speaker {speaker!r} in session {session_id}; its speakers: {have} "
                                       "(a speaker whose voice was forgotten keeps no print: diarize the session "
                                       "again to name it)")
        if session_id in self.encoding():
            raise VoiceInUseError(f"session {session_id} is still encoding; name its speakers when it is ready")
        with self.library.change() as (data, staged):
            voice = data.by_name(name) or _added(data, name)
            old = self.library.embeddings(voice) if voice.prints else np.zeros((0, 256), np.float32)
            staged.put(voice, np.concatenate([old, prints[speaker].embeddings]))
            now = utc_now()
            voice.sources.append({"kind": "session", "session": session_id, "speaker": speaker,
                                  "seconds": prints[speaker].seconds, "at": now})
            voice.updated = now
            talk = load_talk(self.root / session_id).get(speaker, prints[speaker].seconds)
            data.labels.setdefault(session_id, {})[speaker] = Label(voice.id, "named", 1.0, talk, now)
        return self._info(voice.id)

    def rename(self, old: str, new: str, merge: bool = False) -> VoiceInfo:
        """Rename a voice (every session shows the new name at once); onto a taken name only with ``merge``,
        which joins the two voices (embeddings, sources and labels)."""
        new = check_name(new)
        with self.library.change() as (data, staged):
            voice = _find(data, old)
            other = data.by_name(new)
            if other is not None and other.id != voice.id:
                if not merge:
                    raise VoiceNameTakenError(f"the name {new!r} is taken; pass merge to join the two voices")
                staged.put(other, np.concatenate([self.library.embeddings(other), self.library.embeddings(voice)]))
                other.sources += voice.sources
                other.updated = utc_now()
                for rows in data.labels.values():
                    for lab in rows.values():
                        if lab.voice == voice.id:
                            lab.voice = other.id
                del data.voices[voice.id]
                voice = other
            else:
                voice.name, voice.updated = new, utc_now()
        return self._info(voice.id)

    def forget(self, name: str) -> bool:
        """Remove a voice completely: its embeddings, every label that points to it (those speakers are
        ``SPEAKER_xx`` again) and those speakers' prints kept in their sessions (``voiceprints.npz``
        rewritten without them, so the voice can be neither named nor recognised there again without a new
        diarization). Refused while a session using it is still encoding."""
        with self.library.change() as (data, _):
            voice = _find(data, name)
            busy = sorted(sid for sid in self.encoding() if sid in data.labels
                          and any(lab.voice == voice.id for lab in data.labels[sid].values()))
            if busy:
                raise VoiceInUseError(f"voice {voice.name!r} is in use by session(s) still encoding: "
                                      f"{', '.join(busy)}; forget it when they are done")
            del data.voices[voice.id]
            for sid in list(data.labels):
                theirs = {s for s, lab in data.labels[sid].items() if lab.voice == voice.id}
                if theirs and _SESSION.match(sid) and (self.root / sid).is_dir():
                    drop_speakers(self.root / sid, theirs)  # before library.json: a crash leaves no print behind
                data.labels[sid] = {s: lab for s, lab in data.labels[sid].items() if s not in theirs}
                if not data.labels[sid]:
                    del data.labels[sid]
        return True

    # ----- recognising --------------------------------------------------------------------------
    def identify(self, session_ids: Iterable[str] | None = None, *,
                 fresh: bool = False) -> dict[str, dict[str, SpeakerVoice]]:
        """Match the speakers of stored sessions (all with prints, or ``session_ids``) to the library from their
        kept prints, without their audio. Speakers named by a person keep their names; the rest are assigned
        anew (all of them with ``fresh``: the session was diarized again, its labels are new). Returns, per
        session, the speakers that have a voice."""
        ids = [p.parent.name for p in self.root.glob("*/voiceprints.npz")] if session_ids is None else list(session_ids)
        prints = {sid: load_prints(self.root / sid) for sid in ids}
        with self.library.change() as (data, _):
            voices = {v.id: voice_centroid(self.library.embeddings(v)) for v in data.voices.values() if v.prints}
            now = utc_now()
            for sid, found in prints.items():
                rows = {} if fresh else {s: lab for s, lab in data.labels.get(sid, {}).items() if lab.by == "named"}
                named_voices = {lab.voice for lab in rows.values()}
                free = {s: p.centroid for s, p in found.items() if s not in rows}
                spoken = load_talk(self.root / sid)
                candidates = {v: c for v, c in voices.items() if v not in named_voices}
                for spk, match in assign(free, candidates, self.threshold).items():
                    rows[spk] = Label(match.voice, "identified", match.confidence,
                                      round(spoken.get(spk, found[spk].seconds), 2), now)
                if rows:
                    data.labels[sid] = rows
                else:
                    data.labels.pop(sid, None)
        return {sid: {s.speaker: s for s in self.speakers(sid, data.labels.get(sid, {}))} for sid in prints}

    def voices_of(self, session_id: str) -> dict[str, SpeakerVoice]:
        """Label -> voice of the session's recognised speakers (what a transcript shows by name)."""
        data = self.library.read()
        rows = data.labels.get(session_id, {})
        return {s.speaker: s for s in self.speakers(session_id, rows) if s.name}

    def drop_session(self, session_id: str) -> None:
        """Remove a deleted session's labels."""
        if session_id in self.library.read().labels:
            with self.library.change() as (data, _):
                data.labels.pop(session_id, None)

    # ----- helpers ------------------------------------------------------------------------------
    def _session_prints(self, session_id: str):
        if not isinstance(session_id, str) or not _SESSION.match(session_id) or not (self.root / session_id).is_dir():
            raise SessionNotFoundError(f"unknown session id {session_id!r}")
        prints = load_prints(self.root / session_id)
        if not prints and (self.root / session_id / PRINTS).exists():
            raise NoSpeechError(f"session {session_id} keeps no speaker voice prints: no speaker was heard, or "
                                "the voices of its speakers were forgotten (diarize it again to name them)")
        if not prints:
            raise NoSpeechError(f"session {session_id} has no speaker voice prints: open it with speakers=True "
                                "(diarize it) first")
        return prints

    def _check_free(self, name: str, merge: bool) -> None:
        if not merge and self.library.read().by_name(name) is not None:
            raise VoiceNameTakenError(f"the name {name!r} is taken; pass merge to add to its voice")

    def _info(self, voice_id: str) -> VoiceInfo:
        return next(v for v in self.list() if v.id == voice_id)


def _find(data: LibraryData, name: str) -> Voice:
    if not isinstance(name, str) or not name.strip():
        raise InvalidArgumentError(f"a voice name must be non-empty text, got {name!r}")
    voice = data.by_name(" ".join(name.split())) or data.voices.get(name)
    if voice is None:
        have = ", ".join(sorted(v.name for v in data.voices.values())) or "none"
        raise VoiceNotFoundError(f"no voice named {name!r}; voices: {have}")
    return voice


def _added(data: LibraryData, name: str) -> Voice:
    voice = new_voice(name)
    data.voices[voice.id] = voice
    return voice
