"""Voice identification across recordings, on both halves of the development split.

Part 1, ``speech/voices``: "meetings" of 2-4 speakers joined from LibriSpeech utterances (0.4 s apart, each
speaker twice where it has the utterances), some speakers enrolled from one other utterance each (the
``known/`` voices of the half), some never enrolled (the half's ``unknown/`` voices). Each meeting goes the
session's way: Silero VAD speech, the diarizer with the automatic count, a print per speaker from the
diarizer's embeddings of its clean windows (``aero_agent.voices.prints``), the assignment to the library
(``aero_agent.voices.identify``). Scored per reference speaker's speech time (each utterance's speech as
Silero VAD finds it in the utterance alone): the share of enrolled speakers' speech labelled with their own
name, and the share of never-enrolled speakers' speech given any name. The same scored on whole utterance
spans (their silences counted as the speaker's time, as session 24 scored it) is shown beside it. The threshold is swept on both halves;
the one chosen has the best right-name share on the *tuning* half among those naming at most 2% of
strangers' time (of equals, the highest: the lowest false accept).

Part 2, AMI: each speaker of the first meeting of a team is named (the diarized speaker covering most of the
participant's reference time), and the second meeting is identified: ES2003a -> ES2003b (tuning half),
EN2001a -> EN2001e (checking half).

    python benchmarks/voices.py [--meetings 30]
    python benchmarks/voices.py --cost [--rounds 3]   (wrap in flock /work/coord/bench.lock)
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEFAULT_SPEECH_DIR, header_lines, machine_info, table  # noqa: E402
from split import load_split  # noqa: E402

from aero_agent.voices.identify import SPLIT_MARGIN  # noqa: E402

GAP_S = 0.4
RATE = 16_000
THRESHOLDS = [0.70, 0.72, 0.74, 0.76, 0.78, 0.80, 0.82, 0.84, 0.86]
MAX_FALSE_NAME = 0.02
MARGINS = [None, 0.0, 0.02, 0.04, 0.06, 0.08]


def read(path: Path) -> np.ndarray:
    import soundfile as sf

    samples, rate = sf.read(path, dtype="float32")
    assert rate == RATE, path
    return samples


def meetings(rows: list[dict], known: list[str], unknown: list[str], count: int, seed: int):
    """Enrollment utterance per known speaker, and ``count`` meetings: (samples, reference turns)."""
    rng = random.Random(seed)
    by_speaker: dict[str, list[dict]] = {}
    for row in rows:
        by_speaker.setdefault(row["speaker"], []).append(row)
    enroll = {}
    for spk in known:
        long_enough = [r for r in by_speaker[spk] if r["duration_s"] >= 5.0]
        enroll[spk] = rng.choice(long_enough)
    out = []
    for _ in range(count):
        n = rng.randint(2, 4)
        k = rng.randint(1, min(n - 1, len(known)))
        people = rng.sample(known, k) + rng.sample(unknown, n - k)
        pieces = []
        for spk in people:
            pool = [r for r in by_speaker[spk] if r is not enroll.get(spk)]
            pieces += [(spk, r) for r in rng.sample(pool, min(2, len(pool)))]
        rng.shuffle(pieces)
        audio, ref, speech, t = [], [], [], 0.0
        for spk, r in pieces:
            samples = read(DEFAULT_SPEECH_DIR / "voices" / r["path"])
            audio += [samples, np.zeros(int(GAP_S * RATE), dtype=np.float32)]
            ref.append((t, t + len(samples) / RATE, spk))
            speech += [(t + a, t + b, spk) for a, b in utterance_speech(samples)]
            t += len(samples) / RATE + GAP_S
        out.append((np.concatenate(audio), ref, speech))
    return enroll, out


def utterance_speech(samples: np.ndarray) -> list[tuple[float, float]]:
    """The speech of one utterance, heard alone (Silero VAD): its leading and trailing silences and its
    pauses are not the speaker's speech time (they are up to 12% of a LibriSpeech utterance's length)."""
    from aero_agent.speakers.labelling import speech_regions

    return speech_regions(None, samples)


def diarized_prints(samples: np.ndarray, engine=None):
    """The session's way: speech regions (the engine's VAD, Silero without one), the diarizer with the
    automatic count, a print per speaker from the diarizer's own window embeddings. Returns the turns and
    each speaker's centroid."""
    from aero_agent.speakers import EmbeddingDiarizer
    from aero_agent.speakers.labelling import speech_regions, torch_threads
    from aero_agent.voices.prints import speaker_prints

    regions = speech_regions(engine, samples)
    with torch_threads(1):
        result = EmbeddingDiarizer().run(samples, regions)
    segments = [(t.start, t.end, t.speaker) for t in result.turns]
    return segments, {s: p.centroid for s, p in speaker_prints(samples, segments, result.windows).items()}


def named_library(samples: np.ndarray, reference: list, engine=None) -> dict[str, np.ndarray]:
    """Each reference participant's voice as a person naming the diarized speakers would teach it: the
    diarized speaker covering most of their reference time (one speaker per person: an assignment)."""
    from scipy.optimize import linear_sum_assignment

    segments, centroids = diarized_prints(samples, engine)
    people, labels = sorted({s for _, _, s in reference}), sorted(centroids)
    cover = np.array([[sum(overlap((a, b), (c, d)) for a, b, p in reference if p == person
                            for c, d, s in segments if s == label) for label in labels] for person in people])
    return {people[r]: centroids[labels[c]] for r, c in zip(*linear_sum_assignment(-cover)) if cover[r, c] > 0}


def overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def score(cases, voices: dict[str, np.ndarray], threshold: float, split_margin=SPLIT_MARGIN) -> tuple[float, float]:
    """(share of enrolled speakers' time with their own name, share of never-enrolled time with any name)."""
    from aero_agent.voices.identify import assign

    right = known_t = named_unknown = unknown_t = 0.0
    for ref, segments, centroids in cases:
        names = {s: m.voice for s, m in assign(centroids, voices, threshold, split_margin).items()}
        for start, end, spk in ref:
            span = end - start
            got = sum(overlap((start, end), (a, b)) for a, b, s in segments if names.get(s) == spk)
            named = sum(overlap((start, end), (a, b)) for a, b, s in segments if s in names)
            if spk in voices:
                known_t += span
                right += got
            else:
                unknown_t += span
                named_unknown += named
    return right / max(known_t, 1e-9), named_unknown / max(unknown_t, 1e-9)


def voices_part(count: int) -> dict[str, dict]:
    from aero_agent.voices.samples import sample_print

    split = load_split()
    rows = [json.loads(line) for line in (DEFAULT_SPEECH_DIR / "voices" / "manifest.jsonl").read_text().splitlines()
            if line.strip()]
    out = {}
    for half, seed in (("tuning", 1), ("checking", 2)):
        known, unknown = split[f"voices_known_{half}"], split[f"voices_unknown_{half}"]
        enroll, cases = meetings(rows, known, unknown, count, seed)
        voices = {spk: sample_print(read(DEFAULT_SPEECH_DIR / "voices" / r["path"])).centroid
                  for spk, r in enroll.items()}
        diarized = [diarized_prints(samples) for samples, _, _ in cases]
        scored = [(speech, *found) for (_, _, speech), found in zip(cases, diarized)]
        whole = [(ref, *found) for (_, ref, _), found in zip(cases, diarized)]
        out[half] = {t: score(scored, voices, t) for t in THRESHOLDS}
        out[half]["utterances"] = {t: score(whole, voices, t) for t in THRESHOLDS}
        out[half]["margins"] = {m: {t: score(scored, voices, t, m) for t in THRESHOLDS} for m in MARGINS}
        print(half, {t: tuple(round(x, 4) for x in out[half][t]) for t in THRESHOLDS}, flush=True)
    return out


def ami_part(threshold: float) -> dict[str, tuple[float, float]]:
    """Named in the first meeting, identified in the second: share of each named participant's time right."""
    from benchmarks_diar import read_rttm  # type: ignore[import-not-found]

    out = {}
    folder = DEFAULT_SPEECH_DIR / "diarization"
    for half, (first, second) in (("tuning", ("ami_ES2003a_0", "ami_ES2003b_0")),
                                  ("checking", ("ami_EN2001a_0", "ami_EN2001e_0"))):
        library = named_library(read(folder / first / f"{first}.wav"),
                                read_rttm(folder / first / f"{first}.only_words.rttm"))
        voices = library
        samples = read(folder / second / f"{second}.wav")
        ref2 = read_rttm(folder / second / f"{second}.only_words.rttm")
        segs2, cents2 = diarized_prints(samples)
        out[half] = (f"{first} -> {second}", score([(ref2, segs2, cents2)], library, threshold),
                     sorted(voices), sorted({s for _, _, s in ref2}))
        print(half, out[half], flush=True)
    return out


def cost_identification(rounds: int) -> None:
    """What identification adds to a diarized transcription of ES2003a (30 s), in one process, alternated:
    (a) the Whisper pass and the diarization (``label_with_windows``: what a session runs), (b) the prints of
    its speakers from the diarizer's window embeddings and the assignment against a library of 10 voices
    (``transcript_prints`` + ``Voices.identify``, files written); (c), for comparison, the prints from a
    second encoder pass over the clean windows (what session 24 did)."""
    import tempfile
    import time

    from aero_agent.audio import load_audio
    from aero_agent.engines import default_engine
    from aero_agent.speakers import DiarizationOptions
    from aero_agent.speakers.labelling import label_with_windows
    from aero_agent.voices import Voices
    from aero_agent.voices.library import new_voice
    from aero_agent.voices.naming import transcript_prints
    from aero_agent.voices.sessionprints import save_prints

    engine = default_engine()
    clip = load_audio(DEFAULT_SPEECH_DIR / "diarization" / "ami_ES2003a_0" / "ami_ES2003a_0.wav")
    root = Path(tempfile.mkdtemp(prefix="voices-cost-"))
    (root / "s1").mkdir()
    voices = Voices(root)
    rng = np.random.default_rng(0)
    with voices.library.change() as (data, staged):
        for i in range(10):
            voice = new_voice(f"voice {i}")
            data.voices[voice.id] = voice
            staged.put(voice, np.abs(rng.normal(size=(8, 256))))
    label_with_windows(engine.encode(clip).transcript, clip.samples, DiarizationOptions(), engine)  # warm-up
    base, extra, second = [], [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        labelled, windows = label_with_windows(engine.encode(clip).transcript, clip.samples, DiarizationOptions(),
                                               engine)
        base.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        prints = transcript_prints(labelled, clip.samples, windows)
        save_prints(root / "s1", prints, {})
        voices.identify(["s1"], fresh=True)
        extra.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        prints = transcript_prints(labelled, clip.samples)
        save_prints(root / "s1", prints, {})
        voices.identify(["s1"], fresh=True)
        second.append(time.perf_counter() - t0)
    b, e, s = float(np.median(base)), float(np.median(extra)), float(np.median(second))
    print(table(["step (ES2003a, 30 s)", "median s", "rounds"],
                [["transcription + diarization", f"{b:.2f}", rounds],
                 ["prints (diarizer's windows) + identification", f"{e:.3f}", rounds],
                 ["identification added", f"{100 * e / b:.1f}%", ""],
                 ["prints (second encoder pass) + identification", f"{s:.3f}", rounds],
                 ["identification added, second pass", f"{100 * s / b:.1f}%", ""]]))


def cost_library(sessions: int = 100, voices_count: int = 1000) -> None:
    """``list_voices`` and a name-filtered ``search_library`` with ``voices_count`` voices and ``sessions``
    sessions (copies of one diarized ES2003a session, published with ``adopt``; random voice embeddings)."""
    import tempfile
    import time

    from aero_agent.store import SessionStore
    from aero_agent.voices.library import Label, new_voice

    root = Path(tempfile.mkdtemp(prefix="voices-library-"))
    store = SessionStore(root)
    seed = store.open(DEFAULT_SPEECH_DIR / "diarization" / "ami_ES2003a_0" / "ami_ES2003a_0.wav", speakers=True)
    files = {p.name: p.read_bytes() for p in (root / seed.id).iterdir() if p.is_file() and not p.name.startswith(".")}
    info = json.loads(files["info.json"])
    ids = [seed.id]
    for i in range(sessions - 1):
        info["id"] = f"copy{i:04d}"
        store.adopt({**files, "info.json": json.dumps(info).encode()})
        ids.append(info["id"])
    rng = np.random.default_rng(0)
    with store.voices.library.change() as (data, staged):
        made = []
        for i in range(voices_count):
            voice = new_voice(f"Voice {i:04d}")
            data.voices[voice.id] = voice
            staged.put(voice, np.abs(rng.normal(size=(8, 256))))
            made.append(voice)
        for n, sid in enumerate(ids):
            data.labels[sid] = {"SPEAKER_00": Label(made[n % 7].id, "identified", 0.9, 19.6, "2026-12-07T00:00:00"),
                                "SPEAKER_01": Label(made[7 + n].id, "identified", 0.9, 7.2, "2026-12-07T00:00:00")}
    store.search("the meeting", 5)  # the library index is built once per store process (not what is measured)

    def timed(fn, repeat: int = 5) -> float:
        out = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
        return 1000 * float(np.median(out))

    from aero_agent.voices import Voices

    from aero_agent.voices.library import _parsed

    fresh = timed(lambda: (_parsed.clear(), Voices(root).list()))
    warm = timed(store.voices.list)
    search = timed(lambda: store.search("the meeting", 5, speaker="Voice 0003"))
    plain = timed(lambda: store.search("the meeting", 5))  # the same search without the voice: query embedding etc.
    hits = store.search("the meeting", 5, speaker="Voice 0003")
    assert hits and all(h.speaker == "Voice 0003" for h in hits)
    print(table(["call", f"median ms ({voices_count} voices, {sessions} sessions)"],
                [["list_voices (library.json parsed: first call after a change)", f"{fresh:.1f}"],
                 ["list_voices (parsed once per version of the file)", f"{warm:.1f}"],
                 ["search_library(speaker=...) (index built)", f"{search:.1f}"],
                 ["search_library without speaker (same query)", f"{plain:.1f}"]]))
    store.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--meetings", type=int, default=30)
    parser.add_argument("--cost", action="store_true", help="measure the cost of identification and the library")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.cost:
        print("\n".join(header_lines(machine_info(), " ".join(sys.argv))))
        cost_library()
        cost_identification(args.rounds)
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import importlib

    sys.modules["benchmarks_diar"] = importlib.import_module("diarization")
    part1 = voices_part(args.meetings)
    # the best right-name share on the tuning half among thresholds whose false-name share is at most
    # MAX_FALSE_NAME; of equals, the highest threshold (the lowest false accept)
    allowed = [t for t in THRESHOLDS if part1["tuning"][t][1] <= MAX_FALSE_NAME] or [max(THRESHOLDS)]
    chosen = max(allowed, key=lambda t: (round(part1["tuning"][t][0], 3), t))
    print("\n".join(header_lines(machine_info(), " ".join(sys.argv))))
    rows = [[f"{t:.2f}" + (" (chosen)" if t == chosen else ""),
             *(f"{100 * part1[h][t][i]:.1f}%" for h in ("tuning", "checking") for i in (0, 1))] for t in THRESHOLDS]
    print(table(["threshold", "tuning: enrolled right", "tuning: unknown named", "checking: enrolled right",
                 "checking: unknown named"], rows))
    print("\nScored on whole utterance spans (leading and trailing silences and pauses counted as speech):")
    print(table(["threshold", "tuning: enrolled right", "tuning: unknown named", "checking: enrolled right",
                 "checking: unknown named"],
                [[f"{t:.2f}", *(f"{100 * part1[h]['utterances'][t][i]:.1f}%" for h in ("tuning", "checking")
                                for i in (0, 1))] for t in THRESHOLDS]))
    print(f"\nThe split rule's margin (a speaker left over by the assignment joins a voice it fits by threshold + "
          f"margin; none: never), at the chosen threshold {chosen:.2f}:")
    print(table(["margin", "tuning: enrolled right", "tuning: unknown named", "checking: enrolled right",
                 "checking: unknown named"],
                [["none" if m is None else f"{m:.2f}" + (" (default)" if m == SPLIT_MARGIN else ""),
                  *(f"{100 * part1[h]['margins'][m][chosen][i]:.1f}%" for h in ("tuning", "checking") for i in (0, 1))]
                 for m in MARGINS]))
    ami = ami_part(chosen)
    print(table(["half", "meetings", "enrolled right", "unknown named", "named", "in second"],
                [[h, v[0], f"{100 * v[1][0]:.1f}%", "-" if not set(v[3]) - set(v[2]) else f"{100 * v[1][1]:.1f}%",
                  ", ".join(v[2]), ", ".join(v[3])] for h, v in ami.items()]))


if __name__ == "__main__":
    main()
