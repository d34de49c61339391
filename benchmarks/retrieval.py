"""Find by meaning: recall of BM25, embeddings and their fusion, search latency, library latency, indexing cost.

Question set: :data:`QUESTIONS`, written by hand from the manifest's reference texts before any run: for each
clip one question that paraphrases it (few or none of its content words) and one lexical control that reuses
its words. The recording is every speech clip of ``--speech-dir`` joined once (``join_clips``), transcribed
by the embedded Whisper engine (the transcript is cached in ``--out``). A hit is correct when it overlaps the
clip's span by at least half of the shorter of the two. Every method ranks the same passages (segments plus
20-s windows) with the same distinct-place rule; ``bm25-segments`` is the ranking before this change.

Latency: a 60-minute session made by repeating the real transcript (times shifted), searched with each
question; and a library of 100 stored sessions (the real transcript in each, so 100 x the joined length).
Indexing cost: the passages, vectors and tags of a 15-minute recording against the time to transcribe it.

    python benchmarks/retrieval.py [--out benchmarks/out/retrieval] [--quick]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEFAULT_SPEECH_DIR, header_lines, machine_info, rss_mb, table, write_json

# clip id: (paraphrase, lexical control)
QUESTIONS: dict[str, tuple[str, str]] = {
    "librivox_sense_sensibility_0870": ("the gentleman had free time to weigh how generously he could sensibly "
                                        "help the family", "john dashwood leisure to consider"),
    "librivox_sense_sensibility_0880": ("the youth did not have a bad character", "ill disposed young man"),
    "librivox_sense_sensibility_0890": ("being unfeeling and self-centred counts as a mean temperament",
                                        "cold hearted and rather selfish"),
    "librivox_sense_sensibility_0920": ("a kinder wife would have made him more decent and honourable",
                                        "married a more amiable woman"),
    "pocketsphinx_cards_005": ("several playing cards from different suits", "eight of spades"),
    "pocketsphinx_goforward": ("move ahead a short distance", "go forward ten meters"),
    "pocketsphinx_forever_input_2": ("time seems endless lately", "these days go on forever"),
    "osr_us_000_0034": ("a storm wrecked a farm building", "gold ring will please most any girl"),
    "realpython_harvard": ("pickled food goes well with pork", "stale smell of old beer"),
    "jfk_inaugural_1961": ("what should citizens offer to their nation", "ask not what your country can do"),
    "librispeech_1089-134686-0001": ("when evening came lights glowed in the shabby district",
                                     "yellow lamps would light up"),
    "librispeech_1221-135766-0001": ("a beautiful baby was granted to her because of wrongdoing",
                                     "lovely child dishonoured bosom"),
    "librispeech_1272-128104-0000": ("a preacher for ordinary bourgeois people whose message is welcomed",
                                     "apostle of the middle classes"),
    "librispeech_61-70968-0000": ("he grumbled about the magician who disappeared behind a drape",
                                  "complaint against the wizard"),
    "librispeech_2412-153948-0000": ("the narrator will not talk about his background or why he emigrated",
                                     "say nothing of my antecedents"),
    "ami_ES2011a_headset0_40s_46s": ("a woman introduces herself and gives her nickname", "call me abbie"),
    "mfa_acoustic_corpus": ("someone speaking quickly and then slowly with some mistakes",
                            "acoustic corpus talking pretty fast"),
    "mfa_thoughts": ("I have many ideas on the subject", "thousand thoughts about that thing"),
    "mfa_falsetto": ("the voice here is shrill", "very high pitched"),
    "mfa_falsetto2": ("I can't understand how anyone speaks this way", "how people talk like this"),
    "mfa_whisper": ("spoken in a hushed voice", "all very whispered"),
    "ljspeech_LJ001-0001": ("how putting ink on paper compares with other trades on display",
                            "printing differs from most arts and crafts"),
    "ljspeech_LJ001-0003": ("people in Asia made prints from carved timber long before the Dutch",
                            "Chinese took impressions from wood blocks"),
    "ljspeech_LJ001-0005": ("when was typesetting with reusable type created", "movable metal letters fifteenth century"),
    "ljspeech_LJ050-0131": ("regular official audits of operations are needed", "frequent formal review of activities"),
    "librivox_shakespeare_sonnet_1": ("a plea to have children so that beauty does not die out",
                                      "from fairest creatures we desire increase"),
    "librivox_shakespeare_sonnet_2": ("when you are old and wrinkled after many years",
                                      "when forty winters shall besiege thy brow"),
    "fleurs_en_000": ("fashions in Europe trailed decades behind because news travelled slowly",
                      "slow communication channels styles in the west"),
    "fleurs_en_001": ("which German words are written with an uppercase initial",
                      "nouns always begin with a capital letter"),
    "fleurs_en_002": ("a charming nearby town made popular by a poet's praise",
                      "romantic and fascinating town of sintra"),
    "fleurs_en_003": ("a vegetable liquid that works as a pH indicator", "cabbage juice changes color"),
    "fleurs_en_004": ("birds are really a kind of prehistoric reptile", "dinosaurs because they have feathers"),
    "fleurs_en_005": ("the clinic isolated the sick person to stop contagion",
                      "hospital has followed protocol for infection control"),
    "fleurs_en_006": ("disaster officials said the islands suffered no harm",
                      "northern marianas emergency management office"),
}
WEIGHTS = (0.1, 0.15, 0.2, 0.3, 0.5)
TARGETS = {"paraphrase_recall5": 0.85, "lexical_recall5": 1.0, "session_ms": 50.0, "library_ms": 200.0,
           "index_share": 0.10}


# ----------------------------------------------------------------------------- transcripts
def transcribe_cached(samples, out: Path, label: str) -> tuple[Any, float | None]:
    """The embedded engine's transcript of ``samples`` (cached by content), and the seconds it took (None when
    read from the cache)."""
    from aero_agent.audio import AudioClip
    from aero_agent.engines import default_engine
    from aero_agent.transcript import Transcript

    digest = hashlib.sha1(samples.tobytes()).hexdigest()[:12]
    path = out / f"transcript-{label}-{digest}.json"
    if path.exists():
        return Transcript.model_validate_json(path.read_text()), None
    engine = default_engine()
    clip = AudioClip(samples=samples, source=label, original_sample_rate=16_000, original_channels=1)
    t0 = time.perf_counter()
    transcript = engine.encode(clip).transcript
    seconds = time.perf_counter() - t0
    path.write_text(transcript.model_dump_json())
    (out / f"transcript-{label}-{digest}.seconds").write_text(f"{seconds:.3f}")
    return transcript, seconds


def cached_seconds(out: Path, label: str) -> float | None:
    found = sorted(out.glob(f"transcript-{label}-*.seconds"))
    return float(found[0].read_text()) if found else None


def repeated(segments, duration_s: float, target_s: float):
    """``segments`` repeated with shifted times until they cover ``target_s`` seconds."""
    out, offset = [], 0.0
    while offset < target_s:
        out += [s.model_copy(update={"start": s.start + offset, "end": s.end + offset}) for s in segments]
        offset += duration_s
    return out


# ----------------------------------------------------------------------------- recall
def correct(hit, span: tuple[float, float]) -> bool:
    overlap = min(hit.end, span[1]) - max(hit.start, span[0])
    return overlap >= 0.5 * min(hit.end - hit.start, span[1] - span[0])


def recall_table(segments, spans: dict[str, tuple[float, float]], embedder) -> tuple[list[list[Any]], dict]:
    from aero_agent.passages import build_passages
    from aero_agent.retrieval import BM25Index, DenseRanker, FusionOptions, HybridRanker, top_hits
    from aero_agent.vectors import PassageVectors

    passages = build_passages(segments)
    matrix = PassageVectors(embedder.model_id).matrix_for(passages, embedder)
    bm25 = BM25Index(passages)
    dense = DenseRanker(matrix, embedder)
    methods: dict[str, tuple[Sequence, Any]] = {
        "bm25-segments (before)": (segments, BM25Index(segments)),
        "bm25": (passages, bm25),
        "embeddings": (passages, dense),
        "hybrid rrf": (passages, HybridRanker(bm25, dense, FusionOptions("rrf"))),
    }
    for w in WEIGHTS:
        methods[f"hybrid weighted w={w}"] = (passages, HybridRanker(bm25, dense, FusionOptions("weighted", w)))
    rows, found = [], {}
    for name, (items, ranker) in methods.items():
        scores = {"paraphrase": [0, 0], "lexical": [0, 0]}
        for clip_id, (para, lex) in QUESTIONS.items():
            for kind, question in (("paraphrase", para), ("lexical", lex)):
                hits = top_hits(items, ranker.scores(question), 5, 0.0)
                scores[kind][0] += bool(hits) and correct(hits[0], spans[clip_id])
                scores[kind][1] += any(correct(h, spans[clip_id]) for h in hits)
                if not any(correct(h, spans[clip_id]) for h in hits):
                    found.setdefault("misses", []).append([name, kind, question])
        n = len(QUESTIONS)
        found[name] = {k: {"recall1": v[0] / n, "recall5": v[1] / n} for k, v in scores.items()}
        rows.append([name, f"{scores['paraphrase'][0] / n:.3f}", f"{scores['paraphrase'][1] / n:.3f}",
                     f"{scores['lexical'][0] / n:.3f}", f"{scores['lexical'][1] / n:.3f}"])
    return rows, found


# ----------------------------------------------------------------------------- latency
def percentiles(samples_ms: list[float]) -> tuple[float, float]:
    ordered = sorted(samples_ms)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def session_latency(segments, embedder, rounds: int) -> dict[str, Any]:
    """Follow-up search on a long session: hybrid and BM25 alone, alternating per question."""
    from aero_agent.index import TranscriptIndex
    from aero_agent.retrieval import HybridRetrieval, LexicalRetrieval

    hybrid = TranscriptIndex(HybridRetrieval(embedder))
    lexical = TranscriptIndex(LexicalRetrieval())
    t0 = time.perf_counter()
    passages, _ = hybrid.passages(segments)
    build_s = time.perf_counter() - t0
    lexical.passages(segments)
    questions = [q for pair in QUESTIONS.values() for q in pair]
    times: dict[str, list[float]] = {"hybrid": [], "bm25": []}
    for _ in range(rounds):
        for q in questions:
            for name, index in (("hybrid", hybrid), ("bm25", lexical)):
                t = time.perf_counter()
                index.search(segments, q, 5)
                times[name].append((time.perf_counter() - t) * 1000)
    out = {name: percentiles(v) for name, v in times.items()}
    return {"segments": len(segments), "passages": len(passages), "index_build_s": build_s,
            "median_ms": {k: v[0] for k, v in out.items()}, "p95_ms": {k: v[1] for k, v in out.items()},
            "searches": len(times["hybrid"])}


def library_latency(transcript, embedder, sessions: int, rounds: int) -> dict[str, Any]:
    """Library search over ``sessions`` stored sessions holding the real transcript (vectors written once)."""
    import numpy as np

    from aero_agent.persistence import session_files as disk
    from aero_agent.passages import build_passages
    from aero_agent.results import SessionInfo
    from aero_agent.store import SessionStore
    from aero_agent.retrieval import HybridRetrieval
    from aero_agent.vectors import PassageVectors

    vectors = PassageVectors(embedder.model_id)
    vectors.matrix_for(build_passages(transcript.segments), embedder)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for i in range(sessions):
            folder = root / f"lib{i:03d}"
            folder.mkdir()
            disk.save_transcript(folder, transcript)
            disk.save_vectors(folder, vectors)
            info = SessionInfo(id=folder.name, source=f"/recordings/{folder.name}.wav",
                               duration_s=transcript.duration_s, engine="whisper", model_id="embedded:tiny.en",
                               status="ready", progress=1.0, tags=["synthetic"])
            disk.write_json(folder / disk.INFO, info.model_dump())
        store = SessionStore(root, retrieval=HybridRetrieval(embedder))
        t0 = time.perf_counter()
        store.search("warm up the library", 5)
        cold_s = time.perf_counter() - t0
        questions = [q for pair in QUESTIONS.values() for q in pair]
        times = []
        for _ in range(rounds):
            for q in questions:
                t = time.perf_counter()
                store.search(q, 5)
                times.append((time.perf_counter() - t) * 1000)
        passages, owners, ranker = store._library._join()
        matrix = ranker.dense.vectors
        # the one-matrix choice: the same cosine scan from RAM and from a memory-mapped .npy, alternating
        np.save(root / "matrix.npy", matrix)
        mapped = np.load(root / "matrix.npy", mmap_mode="r")
        query = embedder.embed(["a storm wrecked a farm building"])[0]
        scan = {"ram": [], "mmap": []}
        for _ in range(50):
            for name, m in (("ram", matrix), ("mmap", mapped)):
                t = time.perf_counter()
                np.argsort(-(m @ query))[:50]
                scan[name].append((time.perf_counter() - t) * 1000)
        med, p95 = percentiles(times)
        return {"sessions": sessions, "rows": len(passages), "matrix_mb": matrix.nbytes / 2**20,
                "cold_first_search_s": cold_s, "median_ms": med, "p95_ms": p95, "searches": len(times),
                "scan_ms": {k: statistics.median(v) for k, v in scan.items()}}


def indexing_cost(segments, embedder, transcribe_s: float) -> dict[str, Any]:
    """Seconds and memory to index a finished transcript (passages, vectors, tags) vs transcribing it."""
    from aero_agent.index import TranscriptIndex
    from aero_agent.retrieval import HybridRetrieval

    before = rss_mb()
    index = TranscriptIndex(HybridRetrieval(embedder))
    t0 = time.perf_counter()
    passages, _ = index.passages(segments)
    vectors_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    found = index.topics(segments)
    tags_s = time.perf_counter() - t1
    total = vectors_s + tags_s
    return {"segments": len(segments), "passages": len(passages), "vectors_s": vectors_s, "tags_s": tags_s,
            "index_s": total, "transcribe_s": transcribe_s, "share": total / transcribe_s,
            "rss_added_mb": rss_mb() - before, "vectors_mb": len(passages) * embedder.dim * 4 / 2**20,
            "tags": found.tags if found else None}


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speech-dir", type=Path, default=DEFAULT_SPEECH_DIR)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out" / "retrieval")
    parser.add_argument("--session-minutes", type=float, default=60.0)
    parser.add_argument("--library-sessions", type=int, default=100)
    parser.add_argument("--index-minutes", type=float, default=15.0)
    parser.add_argument("--rounds", type=int, default=3, help="passes over the questions for latency")
    parser.add_argument("--quick", action="store_true", help="recall only (no 15-minute transcription)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    info = machine_info()
    print("\n".join(header_lines(info, " ".join(sys.argv))))

    from aero_agent.embeddings import default_embedder

    t0 = time.perf_counter()
    rss0 = rss_mb()
    embedder = default_embedder()
    embedder.embed(["warm up"])
    load = {"load_s": time.perf_counter() - t0, "rss_mb": rss_mb() - rss0}
    print(f"embedder: {embedder.model_id}, dim {embedder.dim}, load {load['load_s']:.2f} s, +{load['rss_mb']:.0f} MiB RSS")

    from aero_agent.evaluation import JoinedRecording, join_clips, speech_clips

    clips = speech_clips(args.speech_dir)
    two = join_clips(clips, min_duration_s=sum(c.duration_s + 1.0 for c in clips))  # a pass and a bit
    end = two.spans[len(clips) - 1][2] + 0.6
    joined = JoinedRecording(two.samples[:int(end * 16_000)], "", two.spans[:len(clips)])  # each clip once
    spans = {cid: (a, b) for cid, a, b in joined.spans}
    missing = sorted(set(QUESTIONS) - set(spans))
    if missing:
        raise SystemExit(f"clips not in the manifest: {missing}")
    transcript, _ = transcribe_cached(joined.samples, args.out, "joined")
    print(f"\nrecording: {joined.duration_s / 60:.2f} min, {len(clips)} clips, {len(transcript.segments)} segments; "
          f"{len(QUESTIONS)} clips x (1 paraphrase + 1 lexical) questions")
    rows, recall = recall_table(transcript.segments, spans, embedder)
    print(table(["method", "paraphrase R@1", "paraphrase R@5", "lexical R@1", "lexical R@5"], rows))
    result: dict[str, Any] = {"machine": info, "embedder": load, "recall": recall, "questions": len(QUESTIONS)}

    long = repeated(transcript.segments, joined.duration_s, args.session_minutes * 60)
    sess = session_latency(long, embedder, args.rounds)
    result["session"] = sess
    print(f"\nfollow-up search on a {args.session_minutes:.0f}-minute session ({sess['segments']} segments, "
          f"{sess['passages']} passages; building the index with all vectors took {sess['index_build_s']:.1f} s), "
          f"{sess['searches']} searches each, alternating:")
    print(table(["ranker", "median ms", "p95 ms", "median x bm25"],
                [[k, f"{sess['median_ms'][k]:.2f}", f"{sess['p95_ms'][k]:.2f}",
                  f"{sess['median_ms'][k] / sess['median_ms']['bm25']:.2f}"] for k in ("hybrid", "bm25")]))

    lib = library_latency(transcript, embedder, args.library_sessions, args.rounds)
    result["library"] = lib
    print(f"\nlibrary search over {lib['sessions']} stored sessions ({lib['rows']} passages, one "
          f"{lib['matrix_mb']:.1f} MiB matrix; first search after opening the store {lib['cold_first_search_s']:.2f} s): "
          f"median {lib['median_ms']:.2f} ms, p95 {lib['p95_ms']:.2f} ms over {lib['searches']} searches")
    print(f"cosine scan + top-50 of that matrix: in RAM {lib['scan_ms']['ram']:.2f} ms, memory-mapped "
          f"{lib['scan_ms']['mmap']:.2f} ms (ratio {lib['scan_ms']['mmap'] / lib['scan_ms']['ram']:.2f})")

    if not args.quick:
        fifteen = join_clips(clips, min_duration_s=args.index_minutes * 60)
        long_t, seconds = transcribe_cached(fifteen.samples, args.out, f"{args.index_minutes:g}min")
        seconds = seconds if seconds is not None else cached_seconds(args.out, f"{args.index_minutes:g}min")
        cost = indexing_cost(long_t.segments, embedder, seconds)
        result["indexing"] = cost
        print(f"\nindexing a {fifteen.duration_s / 60:.1f}-minute recording ({cost['segments']} segments, "
              f"{cost['passages']} passages): vectors {cost['vectors_s']:.2f} s + tags {cost['tags_s']:.2f} s = "
              f"{cost['index_s']:.2f} s vs transcription {cost['transcribe_s']:.1f} s: {100 * cost['share']:.1f} % "
              f"(target < {100 * TARGETS['index_share']:.0f} %); memory: +{cost['rss_added_mb']:.1f} MiB RSS, "
              f"vectors {cost['vectors_mb']:.2f} MiB, embedder +{load['rss_mb']:.0f} MiB once per process; "
              f"tags: {cost['tags']}")
    write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
