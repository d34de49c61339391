"""Custom vocabulary, measured as contextual-biasing work measures it: recall of the listed words that occur,
WER of every other word, the same with distractors alone, and the cost of a 100-term list.

The listed words are names and rare words of ``../shared/speech`` (most of which the embedded tiny.en writes
wrong without a list), in one list with :data:`DISTRACTORS` (terms that occur in no clip). Every speech clip is
transcribed alone (one call of all clips) under each method:

- ``none``: no list;
- ``prompt``: (a) the list as a prompt before every window (faster-whisper's ``hotwords``);
- ``trie@B``: (b) shallow fusion over the list's token trie with bonus B (``biasing.py``);
- ``spell``: (c) the spelling pass (``spelling.py``) on the transcripts without a list; ``trie@B+spell`` on trie's;
- ``prompt+trie@B``; ``distractors@B``: the trie with the distractors alone; ``siblings@B``: the trie with
  :data:`SIBLINGS` alone (names sharing a first token with a spoken word).

``--split-guard``, ``--by-share`` and ``--rewrite-min-p`` set the guards of ``biasing.py`` for every trie run;
``--each`` transcribes every clip in a call of its own (no batch shared between clips: a window changed in one
clip cannot move another clip's numbers, which in one call of all clips changed words of untouched clips).
Every run decodes as the engine does by default (its ``BeamPolicy``: beam 5 for these clips, all under a minute)
unless ``--beam-size`` says otherwise (1: greedy, as recordings over a minute and live sessions decode).

Every figure is reported on the tuning and the checking half (``benchmarks/split.json``); the bonus is chosen on
the tuning half. ``--cost`` times the whole set with a 100-term list against none, alternating (run it under
``flock /work/coord/bench.lock`` on a shared machine).

    python benchmarks/vocabulary.py --bonus 1 2 3 4 --cost 3
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from split import half_of, load_split  # noqa: E402

DEFAULT_SPEECH_DIR = HERE.parent.parent / "shared" / "speech"

LISTED = ("Montreal Forced Aligner", "tacos al pastor", "Marianas", "thereunder", "sie", "Dashwood", "Sintra",
          "Abigail", "Claflin", "Abbie", "Quilter", "churl")
"""Names, a product, a dish and rare words of the clips' references (a user's list)."""

DISTRACTORS = (
    "Ebenezer", "Kubernetes", "Grafana", "Prometheus", "Terraform", "Ansible", "PostgreSQL", "Redis", "Kafka",
    "Elasticsearch", "TensorFlow", "PyTorch", "Hugging Face", "LangChain", "OpenTelemetry", "Datadog", "Splunk",
    "Jenkins", "GitLab", "Bitbucket", "Jira", "Confluence", "Salesforce", "HubSpot", "Zendesk", "Snowflake",
    "Databricks", "Airflow", "Dagster", "Kubeflow", "Istio", "Envoy", "Nginx", "HAProxy", "Cloudflare", "Vercel",
    "Netlify", "Supabase", "Firebase", "DynamoDB", "Cassandra", "MongoDB", "CockroachDB", "ClickHouse", "DuckDB",
    "Parquet", "Avro", "Protobuf", "gRPC", "GraphQL", "OAuth", "Keycloak", "Okta", "Auth0", "Vault", "Consul",
    "Nomad", "Helm", "Argo CD", "Tekton", "Rancher", "OpenShift", "Anthos", "Azure DevOps", "CloudFormation",
    "Pulumi", "Siobhan", "Aoife", "Niamh", "Saoirse", "Tadhg", "Oisin", "Caoimhe", "Ruairi", "Eoghan", "Padraig",
    "Xiaoming", "Zhang Wei", "Nguyen", "Tran Thi", "Oluwaseun", "Chidinma", "Adebayo", "Nkechi", "Thandiwe",
    "Sipho", "Kwame", "Yaw Mensah", "Wojciech", "Szczepan", "Przemyslaw", "Grzegorz", "Krzysztof", "Dagny",
    "Siggeir", "Bjornsson", "Ingibjorg", "Thorvaldsen", "Arvid", "Henrikke", "Mateusz", "Bogdan", "Radoslav",
    "Svetlana", "Yevgeny", "Dmitri", "Anastasiya", "Vsevolod", "Kieran", "Ptolemy", "Quetzalcoatl", "Ouagadougou",
    "Reykjavik", "Tegucigalpa", "Ljubljana", "Bratislava", "Chisinau", "Ulaanbaatar", "Antananarivo",
    "pharmacokinetics", "thrombocytopenia", "angioplasty", "myocarditis", "sphygmomanometer", "paracetamol",
    "ibuprofen", "metformin", "atorvastatin", "amoxicillin", "EBITDA", "amortisation", "escrow", "subrogation",
    "indemnification", "Aerotrack", "Nimbus Pro", "QuantaFlow", "HelixDB", "Brightwave", "Zephyrix")
"""Terms that occur in no clip of ``../shared/speech`` (checked on every run)."""

SIBLINGS = ("Dashiell", "Marianne", "Montague", "Alistair", "Siena", "Firenze", "Pasteur", "Sinatra", "Theron",
            "Quill", "Clafton", "Abiola", "Chursley")
"""Names that occur in no clip but share their first token with a word that does (" Dash"+"ie"+"ll" and the
spoken "Dashwood", " Marian"+"ne" and "Marianas", " Mont" and "Montreal", " Fire" and "Firefox", " Qu"+"ill" and
"Quilter", " Ab" and "Abigail"): a user's list of first names or near names, whose pull on the spoken word the
path score may complete into the wrong term ("Abbie" listed alone: "Abigail" -> "Abbie")."""


def _words(text: str) -> list[str]:
    from aero_agent.evaluation import normalize

    return normalize(text).split()


def _occurrences(words: list[str], term: list[str]) -> list[int]:
    """Start positions of ``term`` (words) in ``words``."""
    n = len(term)
    return [k for k in range(len(words) - n + 1) if words[k: k + n] == term]


def score(refs: dict[str, str], hyps: dict[str, str], terms: tuple[str, ...]) -> dict[str, Any]:
    """Recall of ``terms`` where they occur, and WER of the other words (biased/unbiased WER: an error counts
    against the listed words when its reference word is part of a listed term's occurrence, or, for an
    inserted word, when it sits next to one)."""
    import jiwer

    listed = [_words(t) for t in terms]
    found = occurring = 0
    errors = other_words = 0
    for clip, ref in refs.items():
        r, h = _words(ref), _words(hyps.get(clip, ""))
        marked: set[int] = set()
        for term in listed:
            starts = _occurrences(r, term)
            occurring += len(starts)
            found += min(len(starts), len(_occurrences(h, term)))
            for k in starts:
                marked.update(range(k, k + len(term)))
        other_words += len(r) - len(marked)
        if not r:
            continue
        alignment = jiwer.process_words(" ".join(r), " ".join(h) if h else "<empty>").alignments[0]
        for chunk in alignment:
            if chunk.type == "equal":
                continue
            if chunk.type == "insert":
                at = chunk.ref_start_idx
                if at not in marked and at - 1 not in marked:
                    errors += chunk.hyp_end_idx - chunk.hyp_start_idx
                continue
            errors += sum(1 for k in range(chunk.ref_start_idx, chunk.ref_end_idx) if k not in marked)
    return {"recall": found / occurring if occurring else None, "found": found, "occurring": occurring,
            "other_wer": errors / other_words if other_words else 0.0, "other_words": other_words}


def _check_distractors(refs: dict[str, str]) -> None:
    words = {k: _words(v) for k, v in refs.items()}
    for term in DISTRACTORS + SIBLINGS:
        t = _words(term)
        hits = [k for k, w in words.items() if _occurrences(w, t)]
        if hits:
            raise SystemExit(f"distractor {term!r} occurs in {hits}")


def _transcribe(engine: Any, audio: list[Any], terms: tuple[str, ...], each: bool = False,
                beam_size: int | None = None) -> tuple[list[Any], float, float]:
    """Every clip transcribed with ``terms``: in one call, or (``each``) one call a clip, so that no clip's
    windows share a batch with another's (a changed window elsewhere cannot shift this clip's numbers).
    ``beam_size`` None: the engine's default (its ``BeamPolicy``: beam 5 for these short clips)."""
    from aero_agent.transcription import TranscribeOptions

    options = TranscribeOptions(vocabulary=terms, beam_size=beam_size)
    t0, c0 = time.perf_counter(), time.process_time()
    if each:
        out = [engine.transcribe_clips([clip], options=options)[0] for clip in audio]
    else:
        out = engine.transcribe_clips(audio, options=options)
    return out, time.perf_counter() - t0, time.process_time() - c0


def _text(transcript: Any) -> str:
    return " ".join(s.text.strip() for s in transcript.segments)


def _cost(engine: Any, audio: list[Any], terms: tuple[str, ...], pairs: int) -> None:
    """Every clip transcribed without a list and with ``terms``, alternating, ``pairs`` times each."""
    times: dict[str, list[tuple[float, float]]] = {"none": [], f"{len(terms)} terms": []}
    for _ in range(pairs):
        for name, listed in zip(times, ((), terms)):
            _, wall, cpu = _transcribe(engine, audio, listed)
            times[name].append((wall, cpu))
            print(f"cost {name}: {wall:.1f} s wall, {cpu:.1f} CPU s", file=sys.stderr, flush=True)
    print("\n| list | wall s (runs) | CPU s (runs) |\n|---|---|---|")
    for name, runs in times.items():
        print(f"| {name} | {' / '.join(f'{w:.1f}' for w, _ in runs)} | {' / '.join(f'{c:.1f}' for _, c in runs)} |")
    with_list, without = (sum(c for _, c in runs) for runs in list(times.values())[::-1])
    print(f"\nCPU time with {len(terms)} terms / without: {with_list / without:.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speech-dir", type=Path, default=DEFAULT_SPEECH_DIR)
    parser.add_argument("--bonus", type=float, nargs="+", default=[1.0, 2.0, 3.0, 4.0])
    parser.add_argument("--chosen", type=float, default=None, help="bonus for the combinations (default: best "
                        "recall on the tuning half whose other-word WER is at most 0.3 points worse, then the lower "
                        "WER, then the smaller bonus)")
    parser.add_argument("--min-p", type=float, nargs="+", default=[0.02],
                        help="the first-token gate(s) swept with each bonus")
    parser.add_argument("--split-guard", choices=("on", "off"), default="on",
                        help="refuse a first token that is a strict prefix of the decoder's own (biasing.py)")
    parser.add_argument("--rewrite-min-p", type=float, default=0.0,
                        help="gate a term's next token where the decoder continues the word otherwise")
    parser.add_argument("--by-share", choices=("on", "off"), default="on",
                        help="scale a first token's bonus by the share of its term's letters it writes")
    parser.add_argument("--each", action="store_true", help="one call a clip (no batch shared between clips)")
    parser.add_argument("--beam-size", type=int, default=None,
                        help="decode every run with this beam size (default: the engine's policy; 1: greedy, as "
                        "recordings over a minute and live sessions)")
    parser.add_argument("--no-prompt", action="store_true", help="skip the prompt methods")
    parser.add_argument("--reuse", type=Path, default=None,
                        help="take none, prompt and spell from an earlier --out file instead of decoding again")
    parser.add_argument("--spell", type=float, nargs=2, default=(0.5, 0.75), metavar=("MAX_P", "MIN_SIM"))
    parser.add_argument("--cost", type=int, default=0, help="alternating timed pairs (100-term list vs none)")
    parser.add_argument("--cost-only", action="store_true", help="only the timed pairs, with --chosen and the "
                        "first --min-p")
    parser.add_argument("--out", type=Path, default=None, help="write every transcript and score as JSON here")
    args = parser.parse_args(argv)

    from aero_agent.audio import load_audio
    from aero_agent.engines.whisper import WhisperEngine
    from aero_agent.evaluation import speech_clips
    from aero_agent.spelling import SpellingPass

    split = load_split()
    clips = speech_clips(args.speech_dir)
    refs = {c.id: c.text for c in clips}
    _check_distractors(refs)
    halves = {h: {c.id for c in clips if half_of(c.id, "speech", split) == h} for h in ("tuning", "checking")}
    audio = [load_audio(c.path) for c in clips]
    full = LISTED + DISTRACTORS
    base = WhisperEngine()
    guards = {"vocabulary_split_guard": args.split_guard == "on", "vocabulary_rewrite_min_p": args.rewrite_min_p,
              "vocabulary_by_share": args.by_share == "on"}
    spell = SpellingPass(full, *args.spell)
    results: dict[str, dict[str, str]] = {}
    transcripts: dict[str, list[Any]] = {}

    def run(name: str, engine: Any, terms: tuple[str, ...]) -> None:
        out, wall, cpu = _transcribe(engine, audio, terms, args.each, args.beam_size)
        transcripts[name] = out
        results[name] = {c.id: _text(t) for c, t in zip(clips, out)}
        print(f"{name}: {wall:.1f} s wall, {cpu:.1f} CPU s", file=sys.stderr, flush=True)

    def table(names: list[str]) -> list[str]:
        rows = ["| method | recall tuning | recall checking | other-word WER tuning | other-word WER checking |",
                "|---|---|---|---|---|"]
        for name in names:
            cells = []
            for metric in ("recall", "other_wer"):
                for half in ("tuning", "checking"):
                    s = score({k: v for k, v in refs.items() if k in halves[half]}, results[name], LISTED)
                    cells.append(f"{s['recall']:.0%} ({s['found']}/{s['occurring']})" if metric == "recall"
                                 else f"{100 * s['other_wer']:.2f} % ({s['other_words']} words)")
            rows.append(f"| {name} | " + " | ".join(cells) + " |")
        return rows

    if args.cost_only:
        tuned = base.variant(vocabulary_bonus=args.chosen or 4.0, vocabulary_min_p=args.min_p[0], **guards)
        _cost(tuned, audio, (LISTED + DISTRACTORS)[:100], args.cost or 2)
        return 0
    if args.reuse:
        earlier = json.loads(args.reuse.read_text())["results"]
        results.update({k: earlier[k] for k in ("none", "prompt", "spell") if k in earlier})
    else:
        run("none", base, ())
        results["spell"] = {c.id: _text(spell.apply(t)) for c, t in zip(clips, transcripts["none"])}
        if not args.no_prompt:
            run("prompt", base.variant(vocabulary_prompt=True, vocabulary_bonus=0.0), full)
    sweep = [(b, p) for p in args.min_p for b in args.bonus]

    def label(b: float, p: float) -> str:
        return f"trie@{b:g},p>={p:g}"

    for bonus, p in sweep:
        run(label(bonus, p), base.variant(vocabulary_bonus=bonus, vocabulary_min_p=p, **guards), full)
    chosen, chosen_p = args.chosen, args.min_p[0]
    if chosen is None:
        tuning = {k: v for k, v in refs.items() if k in halves["tuning"]}
        floor = score(tuning, results["none"], LISTED)["other_wer"] + 0.003
        ok = [(score(tuning, results[label(b, p)], LISTED), b, p) for b, p in sweep]
        ok = [(s["recall"], -s["other_wer"], -b, p) for s, b, p in ok if s["other_wer"] <= floor]
        chosen, chosen_p = (-max(ok)[2], max(ok)[3]) if ok else sweep[0]  # ties: the smaller bonus
    trie = label(chosen, chosen_p)
    tuned = base.variant(vocabulary_bonus=chosen, vocabulary_min_p=chosen_p, **guards)
    results[f"{trie}+spell"] = {c.id: _text(spell.apply(t)) for c, t in zip(clips, transcripts[trie])}
    if not args.reuse and not args.no_prompt:
        run(f"prompt+{trie}", base.variant(vocabulary_prompt=True, vocabulary_bonus=chosen,
                                           vocabulary_min_p=chosen_p, **guards), full)
    run(f"distractors, {trie}", tuned, DISTRACTORS)
    run(f"siblings, {trie}", tuned, SIBLINGS)
    names = [n for n in ["none", "prompt", *[label(b, p) for b, p in sweep], "spell", f"{trie}+spell",
                         f"prompt+{trie}", f"distractors, {trie}", f"siblings, {trie}"] if n in results]
    print(f"{len(LISTED)} listed terms + {len(DISTRACTORS)} distractors; chosen on the tuning half: bonus "
          f"{chosen:g}, first-token gate p >= {chosen_p:g}; split guard {args.split_guard}, rewrite gate "
          f"p >= {args.rewrite_min_p:g}, by share {args.by_share}; beam size {args.beam_size or 'engine default'}")
    print("\n".join(table(names)))
    if args.cost:
        _cost(tuned, audio, (LISTED + DISTRACTORS)[:100], args.cost)
    if args.out:
        args.out.write_text(json.dumps({"chosen": [chosen, chosen_p], "guards": guards, "results": results},
                                       indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
