"""Speaker diarization: DER on the multi-speaker clips of ``--speech-dir``/diarization, all rows in one run.

DER is pyannote.metrics' ``DiarizationErrorRate`` with a 0.25 s collar and overlapping speech scored,
against the reference each clip's ``manifest.jsonl`` row names (for AMI clips the "only words" crop of the
standard AMI reference). The rows:

* ``one speaker, whole file`` and ``reference speech, one speaker``: the two trivial references;
* ``ours, auto``: the session's path (``AudioSession.open(..., speakers=True)``): the Whisper engine's
  Silero VAD speech regions, the speaker count found automatically (eigengap), resegmentation;
* ``ours, num_speakers=true``: the same, given the true count;
* ``ours, auto, threshold count``: the agglomerative count (``count="threshold"``) instead of the eigengap;
* ``ours, auto, no resegmentation``: without the short-window pass (turns at the clustering hop);
* ``ours, auto, identified``: ``ours, auto`` with the speakers recognised among the voices named in the other
  meeting of the same team (ES2003a/b, EN2001a/e) shown by name, as a store with those voices shows them;
* ``ours, auto, reference speech``: the diarizer given the reference's speech regions (word islands);
* ``session transcript (segments)``: the labels of the transcript itself after ``assign_speakers`` (segments
  split at word times), scored as RTTM: what a caller reads.

Beside each pooled AMI DER, its parts: missed speech, false alarm and confusion (shares of reference speech).
The cost of speakers is measured by ``speaker_cost.py`` (whole processes, alternated).

    python benchmarks/diarization.py [--no-transcript]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEFAULT_SPEECH_DIR, header_lines, machine_info, table  # noqa: E402

COLLAR = 0.25
TEAMS = {"ami_ES2003a_0": "ami_ES2003b_0", "ami_ES2003b_0": "ami_ES2003a_0",
         "ami_EN2001a_0": "ami_EN2001e_0", "ami_EN2001e_0": "ami_EN2001a_0"}
"""Meetings of the same people: each clip's speakers are identified against voices named in the other."""


def identified(turns, samples, partner: Path, engine, windows=None) -> list:
    """``turns`` relabelled as the store would show them: the speakers recognised among the voices named in
    the partner meeting (each participant named once, see benchmarks/voices.py) carry the voice's name; the
    prints come from the diarizer's ``windows`` as in a session."""
    from aero_agent.voices.identify import assign
    from aero_agent.voices.prints import speaker_prints
    from voices import named_library, read

    library = named_library(read(partner / f"{partner.name}.wav"),
                            read_rttm(partner / f"{partner.name}.only_words.rttm"), engine)
    prints = speaker_prints(samples, turns, windows)
    names = {s: m.voice for s, m in assign({s: p.centroid for s, p in prints.items()}, library).items()}
    return [(a, b, names.get(s, s)) for a, b, s in turns]


def annotation(turns):
    from pyannote.core import Annotation, Segment

    ann = Annotation()
    for start, end, speaker in turns:
        if end > start:
            ann[Segment(start, end)] = speaker
    return ann


def read_rttm(path: Path) -> list[tuple[float, float, str]]:
    rows = [line.split() for line in path.read_text().splitlines() if line.startswith("SPEAKER")]
    return [(float(r[3]), float(r[3]) + float(r[4]), r[7]) for r in rows]


def load_clips(folder: Path) -> list[dict]:
    import soundfile as sf

    clips = []
    for line in (folder / "manifest.jsonl").read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            samples, rate = sf.read(folder / row["path"], dtype="float32")
            assert rate == 16_000, row["path"]
            row["samples"], row["reference"] = samples, read_rttm(folder / row["rttm"])
            row["folder"] = folder
            clips.append(row)
    return clips


def hypotheses(clip: dict, engine, transcripts: bool) -> dict[str, list]:
    import dataclasses

    from aero_agent.audio import load_audio
    from aero_agent.speakers import DiarizationOptions, EmbeddingDiarizer
    from aero_agent.speakers.labelling import label_transcript, speech_regions
    from aero_agent.threads import torch_threads

    samples = clip["samples"]
    duration = len(samples) / 16_000
    ref = annotation(clip["reference"])
    ref_speech = [(s.start, s.end) for s in ref.get_timeline().support()]
    vad = speech_regions(engine, samples)
    ours = EmbeddingDiarizer()

    def turns(speech, options=DiarizationOptions(), diarizer=ours):
        with torch_threads(1):
            return [(t.start, t.end, t.speaker) for t in diarizer.diarize(samples, speech, options)]

    with torch_threads(1):
        auto = ours.run(samples, vad)
    rows = {
        "one speaker, whole file": [(0.0, duration, "A")],
        "reference speech, one speaker": [(a, b, "A") for a, b in ref_speech],
        "ours, auto": [(t.start, t.end, t.speaker) for t in auto.turns],
        "ours, num_speakers=true": turns(vad, DiarizationOptions(num_speakers=clip["speakers"])),
        "ours, auto, threshold count": turns(vad, diarizer=EmbeddingDiarizer(
            dataclasses.replace(ours.settings, count="threshold"))),
        "ours, auto, no resegmentation": turns(vad, diarizer=EmbeddingDiarizer(
            dataclasses.replace(ours.settings, resegment_hop_s=0.0))),
        "ours, auto, reference speech": turns(ref_speech),
    }
    partner = TEAMS.get(clip["id"])
    if partner is not None:
        rows["ours, auto, identified"] = identified(rows["ours, auto"], samples, clip["folder"] / partner, engine,
                                                    auto.windows)
    if transcripts:
        transcript = engine.encode(load_audio(samples, sample_rate=16_000)).transcript
        labelled = label_transcript(transcript, samples, DiarizationOptions(), engine, ours, speech=vad)
        rows["session transcript (segments)"] = [(s.start, s.end, s.speaker) for s in labelled.segments if s.speaker]
    return rows


def der_tables(clips: list[dict], engine, transcripts: bool) -> str:
    from pyannote.metrics.diarization import DiarizationErrorRate

    from split import load_split

    split = load_split()
    half = {cid: h for h in ("tuning", "checking") for cid in split[f"diarization_{h}"]}
    per_clip: dict[str, dict[str, tuple[float, int]]] = {}
    totals: dict[tuple[str, str], DiarizationErrorRate] = {}
    clips = sorted(clips, key=lambda c: (half.get(c["id"], "z") != "tuning", c["id"]))
    for clip in clips:
        for name, turns in hypotheses(clip, engine, transcripts).items():
            metric = DiarizationErrorRate(collar=COLLAR, skip_overlap=False)
            hyp = annotation(turns)
            der = metric(annotation(clip["reference"]), hyp)
            per_clip.setdefault(name, {})[clip["id"]] = (100 * der, len(hyp.labels()))
            if clip["id"].startswith("ami_") and clip["id"] in half:
                totals.setdefault((name, half[clip["id"]]), DiarizationErrorRate(collar=COLLAR, skip_overlap=False))(
                    annotation(clip["reference"]), hyp)
    ids = [c["id"] for c in clips]
    ami = {h: [i for i in ids if i.startswith("ami_") and half.get(i) == h] for h in ("tuning", "checking")}
    headers = (["system", "tuning AMI DER", "checking AMI DER", "checking: missed / false alarm / confusion"]
               + [f"{i} ({half.get(i, '?')}, {c['speakers']} spk)" for i, c in zip(ids, clips)])
    rows = []
    for name, results in per_clip.items():
        acc = totals[(name, "checking")].accumulated_
        parts = " / ".join(f"{100 * acc[k] / acc['total']:.1f}%" for k in ("missed detection", "false alarm",
                                                                              "confusion"))
        rows.append([name, f"{100 * abs(totals[(name, 'tuning')]):.1f}%",
                     f"{100 * abs(totals[(name, 'checking')]):.1f}%", parts]
                    + [f"{results[i][0]:.1f}% / {results[i][1]}" if i in results else "-" for i in ids])
    note = (f"Clip cells: DER / speakers found. Collar {COLLAR} s, overlap scored; AMI pooled per half of "
            f"benchmarks/split.json: tuning {', '.join(ami['tuning'])}; checking {', '.join(ami['checking'])}. "
            "The other clips are shown apart (weaker references, see the data README).")
    return table(headers, rows) + "\n\n" + note


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speech-dir", type=Path, default=DEFAULT_SPEECH_DIR)
    parser.add_argument("--no-transcript", action="store_true",
                        help="skip the session-transcript row (it transcribes every clip)")
    args = parser.parse_args(argv)
    from aero_agent.engines import default_engine

    print("\n".join(header_lines(machine_info(), " ".join(sys.argv))))
    clips = load_clips(args.speech_dir / "diarization")
    print("\n" + der_tables(clips, default_engine(), not args.no_transcript))
    return 0


if __name__ == "__main__":
    sys.exit(main())
