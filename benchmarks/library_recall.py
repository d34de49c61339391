"""Library search that always answers: recall@1 of paraphrased questions over stored recordings, both halves.

For each half of ``benchmarks/split.json``, every speech clip of the half is opened into one ``SessionStore`` (the
embedded Whisper engine and MiniLM, as the CLI stores them), and each paraphrased question of
:data:`retrieval.QUESTIONS` whose clip is in the half is asked of ``SessionStore.search`` (k=5). A question is
answered at rank 1 when the best hit is in its clip's session. Also reported: empty results (target: none), and
how the ``strong``/``weak`` label splits right and wrong first hits, and queries about nothing in the library
(:data:`UNRELATED`: their best hit should read ``weak``). Thresholds are chosen on the tuning half.

    python benchmarks/library_recall.py [--halves tuning,checking] [--json out.json]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEFAULT_SPEECH_DIR, header_lines, machine_info, table, write_json  # noqa: E402
from retrieval import QUESTIONS  # noqa: E402
from split import load_split  # noqa: E402

UNRELATED = ("the recipe for a chocolate cake with strawberries", "quarterly revenue of the software division",
             "how to change a flat bicycle tyre", "the football score last saturday")


def run_half(half: str, speech_dir: Path, engine, embedder) -> dict:
    from aero_agent.retrieval import HybridRetrieval
    from aero_agent.store import SessionStore

    clips = load_split()[f"speech_{half}"]
    questions = {c: QUESTIONS[c][0] for c in clips if c in QUESTIONS}
    with tempfile.TemporaryDirectory() as root:
        store = SessionStore(root, engine=engine, retrieval=HybridRetrieval(embedder))
        ids = {c: store.open(speech_dir / "clips" / f"{c}.wav").id for c in clips}
        rows, right, empty, labels = [], 0, 0, {"right": [], "wrong": [], "unrelated": []}
        for clip, question in questions.items():
            hits = store.search(question, k=5)
            empty += not hits
            ok = bool(hits) and hits[0].session_id == ids[clip]
            right += ok
            labels["right" if ok else "wrong"].append(hits[0].label if hits else "none")
            rows.append({"clip": clip, "question": question, "first": hits[0].source if hits else None,
                         "score": hits[0].score if hits else None, "label": hits[0].label if hits else None,
                         "right": ok})
        for query in UNRELATED:
            hits = store.search(query, k=5)
            empty += not hits
            labels["unrelated"].append(hits[0].label if hits else "none")
        store.shutdown()
    return {"recordings": len(clips), "questions": len(questions), "recall1": round(right / len(questions), 3),
            "empty": empty, "labels": labels, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speech-dir", type=Path, default=DEFAULT_SPEECH_DIR)
    parser.add_argument("--halves", default="tuning,checking")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    info = machine_info()
    print("\n".join(header_lines(info, "python benchmarks/library_recall.py " + " ".join(argv or sys.argv[1:]))))
    from aero_agent.embeddings import default_embedder
    from aero_agent.engines import default_engine

    engine, embedder = default_engine(), default_embedder()
    results = {half: run_half(half, args.speech_dir, engine, embedder) for half in args.halves.split(",")}
    rows = []
    for half, r in results.items():
        count = {k: f"{v.count('strong')} strong / {v.count('weak')} weak" for k, v in r["labels"].items()}
        rows.append([half, r["recordings"], r["questions"], r["recall1"], r["empty"], count["right"], count["wrong"],
                     count["unrelated"]])
    print(table(["half", "recordings", "questions", "recall@1", "empty results", "right first hits",
                 "wrong first hits", "unrelated queries"], rows))
    for half, r in results.items():
        for row in r["rows"]:
            print(f"[{half}] {'ok ' if row['right'] else 'MISS'} {row['score']} {row['label']} {row['question']!r} -> "
                  f"{Path(row['first']).name if row['first'] else None}")
    write_json(args.json, {"machine": info, "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
