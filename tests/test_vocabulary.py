"""Custom vocabulary: its limits, the trie rule, and a listed name that tiny.en misspells coming out right in a
file, a live stream, a store's sessions, a re-transcribed range, the CLI and both skins.

The speech is the bundled AMI close-talk clip ("I'm Abigail Claflin. You can call me Abbie."), which the embedded
tiny.en writes as "Abigail Klaffon ... Abi" without a list.
"""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from mcp import Client

from aero_agent.audio import load_audio
from aero_agent.data import example_path
from aero_agent.engines.whisper.biasing import VocabularyBias, term_token_sequences
from aero_agent.engines.whisper.decoding import Row
from aero_agent.errors import InvalidArgumentError
from aero_agent.transcription import TranscribeOptions
from aero_agent.session import AudioSession
from aero_agent.spelling import SpellingPass, similarity
from aero_agent.store import SessionStore
from aero_agent.transcript import Segment, Transcript, Word
from aero_agent.vocabulary import (MAX_TERM_CHARS, MAX_TERMS, STORE_FILE, Vocabulary, VocabularyError,
                                   change_store_vocabulary, name_terms, read_store_vocabulary)

from mcp_driver import drive

from aero_mcp import ServerConfig, create_server

NAMES = ["Abigail Claflin", "Abbie"]
DISTRACTORS = ["Kubernetes", "Ebenezer", "Grafana", "Siobhan", "Przemyslaw", "Ouagadougou", "metformin",
               "Zephyrix", "Thorvaldsen", "Quetzalcoatl"]


@pytest.fixture(scope="module")
def ami() -> Path:
    return example_path("ami-short")


@pytest.fixture(scope="module")
def without_list(engine, ami) -> str:
    return " ".join(s.text for s in engine.transcribe_clips([load_audio(ami)])[0].segments)


def _said(text: str) -> set[str]:
    return {w.strip(".,!?'\"").lower() for w in text.split()}


# ----- limits ----------------------------------------------------------------------------------------------
def test_terms_are_cleaned_and_limits_refused(tmp_path: Path) -> None:
    """Catches: empty or duplicate terms kept, a too-long term, too many terms or a control character let
    through, or a refusal that is not the typed invalid-argument error the skins turn into a message."""
    v = Vocabulary.of(" Ebenezer , ebenezer,, Kubernetes ,  Tacos   al pastor ")
    assert v.terms == ("Ebenezer", "Kubernetes", "Tacos al pastor")
    assert Vocabulary.of(None).terms == () and not Vocabulary.of([])
    assert Vocabulary.of(["x" * MAX_TERM_CHARS]).terms == ("x" * MAX_TERM_CHARS,)
    for bad in (["x" * (MAX_TERM_CHARS + 1)], [f"t{i}" for i in range(MAX_TERMS + 1)], ["Ebenezer\nScrooge"],
                ["bell\x07"], ["zero\u200bwidth"], [3], 42):
        with pytest.raises(VocabularyError):
            Vocabulary.of(bad)  # type: ignore[arg-type]
    assert issubclass(VocabularyError, InvalidArgumentError)
    assert len(Vocabulary.of([f"t{i}" for i in range(MAX_TERMS)])) == MAX_TERMS
    assert "Ebenezer" not in repr(Vocabulary.of(["Ebenezer"]))  # a log line shows no term
    listed = tmp_path / "terms.txt"
    listed.write_text("# our team\nClaflin\n\nAbbie\nclaflin\n", "utf-8")
    assert Vocabulary.read(listed).terms == ("Claflin", "Abbie")
    with pytest.raises(VocabularyError):
        Vocabulary.read(tmp_path / "missing.txt")
    with pytest.raises(VocabularyError):
        TranscribeOptions(vocabulary=["a\tb\x1b"])  # type: ignore[arg-type]


def test_store_list_is_changed_atomically_and_private(tmp_path: Path) -> None:
    """Catches: the store's list not saved, saved readable by others, add/remove/set that lose or duplicate
    terms, or an unknown action accepted."""
    assert change_store_vocabulary(tmp_path, "list").terms == ()
    change_store_vocabulary(tmp_path, "add", ["Claflin", "Abbie"])
    assert change_store_vocabulary(tmp_path, "add", ["abbie", "Quilter"]).terms == ("Claflin", "Abbie", "Quilter")
    assert change_store_vocabulary(tmp_path, "remove", ["ABBIE"]).terms == ("Claflin", "Quilter")
    assert read_store_vocabulary(tmp_path).terms == ("Claflin", "Quilter")
    assert stat.S_IMODE(os.stat(tmp_path / STORE_FILE).st_mode) == 0o600
    assert change_store_vocabulary(tmp_path, "set", ["Dashwood"]).terms == ("Dashwood",)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    with pytest.raises(VocabularyError):
        change_store_vocabulary(tmp_path, "drop", ["x"])


# ----- the rule --------------------------------------------------------------------------------------------
def _fused(rule: VocabularyBias, rows: list[Row], vocab: int, favour: dict[int, int] | None = None) -> torch.Tensor:
    """The bias's scores minus flat log-probabilities (what it adds), with each row's favourite token made
    plausible (``favour``: slot -> token)."""
    logprobs = torch.full((len(rows), vocab), -20.0, dtype=torch.float64)
    for slot, token in (favour or {}).items():
        logprobs[slot, token] = -0.01
    return rule.fuse(logprobs, rows) - logprobs


def test_bias_takes_back_an_unfinished_term_and_keeps_a_finished_one(engine) -> None:
    """Catches: a bonus on tokens that start or continue no listed term, a begun term's pull missing, a term
    left unfinished keeping its bonus (the take-back), a finished one losing it, a match across a timestamp, or a
    hypothesis's state shared with its sibling beams."""
    tok, tb, vocab = engine.tokenizer, engine.special.timestamp_begin, engine.model.config.vocab_size
    ab, ig, ail, cl, af, lin = term_token_sequences(tok, ["Abigail Claflin"])[0]
    bie = term_token_sequences(tok, ["Abbie"])[0][1]
    rule = VocabularyBias.of(tok, ["Abigail Claflin", "Abbie"], bonus=4.0, min_p=0.1)
    row = Row(1500)
    added = _fused(rule, [row], vocab, {0: ab})
    assert set(torch.nonzero(added[0]).flatten().tolist()) == {ab}  # a start, where plausible: nothing else
    assert added[0, ab].item() == pytest.approx(4.0 * 2 / 5)  # " Ab" writes 2 of Abbie's 5 letters
    assert not torch.nonzero(_fused(rule, [Row(1500)], vocab)).numel()  # implausible starts get nothing
    row.tokens.append(ab)
    added = _fused(rule, [row], vocab)  # a term begun: "bie" ends Abbie, "ig" goes on; the rest takes 1.6 back
    assert row.bonus.pending == pytest.approx(1.6) and row.bonus.kept == 0.0
    assert added[0, bie].item() == pytest.approx(2.4) and added[0, ig].item() == pytest.approx(16 / 14 - 1.6)
    assert added[0, tb].item() == pytest.approx(-1.6) and added[0, engine.special.eot].item() == pytest.approx(-1.6)
    left, done, on = (Row(1500, tokens=[ab, t], bonus=row.bonus) for t in (tb + 10, bie, ig))  # three beams
    _fused(rule, [left, done, on], vocab)
    assert (left.bonus.kept, left.bonus.pending) == (0.0, 0.0)  # left unfinished: taken back
    assert done.bonus.kept == pytest.approx(4.0) and done.bonus.pending == 0.0  # finished: kept
    assert on.bonus.kept == 0.0 and on.bonus.pending == pytest.approx(4 * 4 / 14)  # "Abig": 4 of 14 letters
    assert not torch.nonzero(_fused(rule, [left], vocab)).numel()  # after a timestamp, nothing begun
    for t in (ail, cl, af, lin):
        on.tokens.append(t)
        _fused(rule, [on], vocab)
    assert on.bonus.kept == pytest.approx(4.0) and on.bonus.pending == 0.0  # a longer term keeps no more


def test_beams_rank_ended_readings_by_the_bonus_they_keep() -> None:
    """Catches: an unfinished term's pending bonus counted when a beam's readings are ranked (a hypothesis ended
    inside a term, at the token limit, would win by bonus it cannot keep), or scores during the search that leave
    the pending bonus out (a begun term would fall out of the beam before it is finished)."""
    from aero_agent.engines.whisper.decoding import Bonus
    from aero_agent.engines.whisper.search import _final, _score

    riding = Row(1500, tokens=[1, 2, 3, 4], sum_logprob=-4.0, bonus=Bonus(kept=0.0, pending=6.0))
    plain = Row(1500, tokens=[1, 2, 3, 4], sum_logprob=-3.0)
    finished = Row(1500, tokens=[1, 2, 3, 4], sum_logprob=-4.0, bonus=Bonus(kept=2.0))
    assert _score(riding) > _score(finished) > _score(plain)
    assert max([riding, plain], key=_final) is plain and max([riding, plain, finished], key=_final) is finished


def test_trie_rule_never_splits_the_decoders_word_nor_respells_it(engine) -> None:
    """Catches: a term's first token boosted where it is a strict prefix of the token the decoder wants (" Fire"
    of a listed "Firenze" splitting " Firefox" into "Fire Fox", as " th" split "thy"), a start refused where
    it is no prefix, a first token's bonus not scaled by the share of its term it writes, or (with the rewrite
    gate) a begun term's next token forced over the decoder's own continuation of the word ("Abbie" listed,
    "Abigail" said) while it may still follow where the word ends."""
    tok, vocab = engine.tokenizer, engine.model.config.vocab_size
    ids = {w: tuple(tok.encode(w, add_special_tokens=False).ids) for w in (" Firefox", " Fire", " the", " Ab", "ig",
                                                                          "bie")}
    assert len(ids[" Firefox"]) == 1 and ids[" Fire"] == term_token_sequences(tok, ["Firenze"])[0][:1]
    (fire,), (firefox,), (the,) = ids[" Fire"], ids[" Firefox"], ids[" the"]
    rule = VocabularyBias.of(tok, ["Firenze"], bonus=4.0, min_p=0.0, by_share=False)
    added = _fused(rule, [Row(1500), Row(1500)], vocab, {0: firefox, 1: the})
    assert added[0, fire].item() == 0.0 and added[1, fire].item() == 4.0
    shared = VocabularyBias.of(tok, ["Firenze", "Montreal"], bonus=4.0, min_p=0.0)  # by the share it writes
    (montreal,) = term_token_sequences(tok, ["Montreal"])
    added = _fused(shared, [Row(1500)], vocab)
    assert len(montreal) == 1 and added[0, montreal[0]].item() == 4.0  # the whole term: the whole bonus
    assert added[0, fire].item() == pytest.approx(4.0 * 4 / 7)  # " Fire" writes 4 of 7 letters
    (ab,), (ig,), (bie,) = ids[" Ab"], ids["ig"], ids["bie"]
    for rewrite_min_p, kept_on in ((0.05, False), (0.0, True)):
        rule = VocabularyBias.of(tok, ["Abbie"], bonus=4.0, min_p=0.0, rewrite_min_p=rewrite_min_p)
        begun = [Row(1500), Row(1500)]
        _fused(rule, begun, vocab)  # both rows are offered " Ab" and write it
        for row in begun:
            row.tokens.append(ab)
        added = _fused(rule, begun, vocab, {0: ig, 1: the})  # row 0 goes on with the word, row 1 ends it
        assert added[1, bie].item() == pytest.approx(4.0 - 1.6)  # where the word ends, Abbie may follow
        assert added[0, bie].item() == pytest.approx(4.0 - 1.6 if kept_on else -1.6)  # gated: not forced


def test_spelling_pass_maps_doubted_sound_alikes_only() -> None:
    """Catches: a confident word respelled, a run that sounds nothing like a term respelled, or times and
    punctuation lost."""
    assert similarity("Klaffon", "Claflin") > similarity("Klaffon", "Kubernetes")
    words = [Word(start=0.0, end=0.4, word=" I'm", probability=0.9),
             Word(start=0.4, end=0.9, word=" Klaffon.", probability=0.3),
             Word(start=1.0, end=1.3, word=" Abi", probability=0.95)]
    transcript = Transcript(segments=[Segment(start=0.0, end=1.3, text="I'm Klaffon. Abi", words=words)],
                            duration_s=2.0)
    out = SpellingPass(("Claflin", "Abbie", "Kubernetes")).apply(transcript).segments[0]
    assert out.text == "I'm Claflin. Abi"  # Abi was confident: kept
    assert (out.words[1].start, out.words[1].end, out.words[1].word) == (0.4, 0.9, " Claflin.")


# ----- real speech -----------------------------------------------------------------------------------------
def test_listed_name_is_spelled_right_in_a_file(engine, ami, without_list) -> None:
    """Catches: the vocabulary not reaching the decoder (the names come out as without it), or distractors
    changing what was said."""
    assert "claflin" not in _said(without_list), without_list  # "Klafflin" (since session 26 "Abbie" reads right)
    options = TranscribeOptions(vocabulary=DISTRACTORS + NAMES)
    text = " ".join(s.text for s in engine.transcribe_clips([load_audio(ami)], options=options)[0].segments)
    assert {"claflin", "abbie", "abigail", "call"} <= _said(text), text
    alone = engine.transcribe_clips([load_audio(ami)], options=TranscribeOptions(vocabulary=DISTRACTORS))[0]
    assert " ".join(s.text for s in alone.segments) == without_list


def test_a_begun_longer_term_does_not_win_under_beams(engine, ami) -> None:
    """Catches a bias that is not beam-safe. With "Abigail Claflin" and "Abbie" listed, session 25's rule (boosted
    logits renormalised, a path score growing along a term) read the clip's speech (0.57-4.53 s, as a range
    decoded again cuts it) "... call me Abbie" as "... call me Abigail Claflin" under beam 5: every token of a
    begun term became nearly free and the longer term won. Now a hypothesis keeps only what a finished term is
    worth (as much for a long term as a short one) and loses what it was given for a term it leaves, in beam
    search (5, the default for a recording up to a minute) as in greedy decoding (1)."""
    whole = load_audio(ami)
    for clip in (whole.slice(0.57, 4.53), whole):
        for beam in (5, 1):
            options = TranscribeOptions(vocabulary=NAMES, beam_size=beam)
            text = engine.transcribe_clips([clip], options=options)[0].text.lower()
            assert "call me abbie" in text and text.count("claflin") == 1, (beam, text)


def test_listed_name_is_spelled_right_in_a_live_stream(engine, ami) -> None:
    """Catches: live decodes that drop the session's vocabulary (the first decode has it, later ones not, or
    the language kept from the first decode replacing the options), or a session that does not report it."""
    samples = np.clip(load_audio(ami).samples * 32767, -32768, 32767).astype(np.int16)
    session = AudioSession.live(engine, transcription=TranscribeOptions(vocabulary=NAMES))
    assert session.info.vocabulary == NAMES
    for lo in range(0, len(samples), 7_000):
        session.feed(samples[lo: lo + 7_000])
    text = session.finish().text
    assert {"claflin", "abbie"} <= _said(text), text


def test_store_list_reaches_every_session_and_a_range_is_retranscribed(engine, ami, tmp_path: Path) -> None:
    """Catches: the store's list not applied to a session it opens, a reused session transcribed without the
    terms asked now, or re-transcription that ignores the vocabulary, loses the rest of the transcript or does
    not keep the terms for the session."""
    store = SessionStore(tmp_path / "store", engine)
    plain = store.open(ami)
    assert plain.info.vocabulary is None and "claflin" not in _said(plain.transcribe().text)
    assert store.find(ami, transcription=TranscribeOptions(vocabulary=NAMES)) is None
    change_store_vocabulary(store.root, "add", NAMES)
    listed = store.open(ami, reuse=True)
    assert listed.id != plain.id and listed.info.vocabulary == NAMES
    assert {"claflin", "abbie"} <= _said(listed.transcribe().text)
    redone = plain.retranscribe(1.0, 2.0, NAMES)  # widened to the segments it touches, never cut
    assert "claflin" in _said(redone.text) and plain.info.vocabulary == NAMES
    assert {"claflin", "abbie"} <= _said(plain.transcribe().text), plain.transcribe().text
    again = SessionStore(tmp_path / "store", engine).get(plain.id)
    assert again.info.vocabulary == NAMES and again.transcription.vocabulary.terms == tuple(NAMES)


def test_enrolled_voice_names_join_every_decode_of_a_store(engine, ami, tmp_path: Path) -> None:
    """Catches: an enrolled voice's name not reaching a store session's decodes (a new file, a live stream, a
    range decoded again), a name saved with a session (forgetting the voice must leave no trace), a session
    opened before the voice was enrolled no longer reused, or a name that cannot be a term refusing the open."""
    store = SessionStore(tmp_path / "store", engine)
    before = store.open(ami)
    assert "claflin" not in _said(before.transcribe().text)
    store.voices.enroll("Abigail Claflin", [ami])
    assert store.open(ami, reuse=True).id == before.id  # reuse asks for the listed terms, not voice names
    assert store.find(ami).id == before.id
    assert "claflin" in _said(before.retranscribe().text)  # a range decoded again has the name
    fresh = store.open(ami)
    assert "claflin" in _said(fresh.transcribe().text), fresh.transcribe().text
    assert fresh.info.vocabulary is None and before.info.vocabulary is None
    live = store.open_live(transcription=TranscribeOptions(vocabulary=["Abbie"]))
    samples = np.clip(load_audio(ami).samples * 32767, -32768, 32767).astype(np.int16)
    live.feed(samples)
    assert {"claflin", "abbie"} <= _said(live.finish().text) and live.info.vocabulary == ["Abbie"]
    assert name_terms(["Abbie", "x" * (MAX_TERM_CHARS + 1), "abbie", "Quilter"], room=5).terms == ("Abbie", "Quilter")
    assert name_terms(["Abbie", "Quilter"], room=1).terms == ("Abbie",)


def test_cli_vocabulary_options_and_store_command(engine, ami, tmp_path: Path, capsys, monkeypatch) -> None:
    """Catches: --vocabulary/--vocabulary-file not reaching the decoder, the store command not saving, or a
    bad term crashing instead of exiting 2 with one line."""
    from aero_agent import cli

    monkeypatch.setattr("aero_agent.engines.load_engine", lambda *a, **k: engine)
    terms = tmp_path / "terms.txt"
    terms.write_text("Abbie\n", "utf-8")
    assert cli.main(["transcribe", str(ami), "--vocabulary", "Abigail Claflin", "--vocabulary-file", str(terms)]) == 0
    assert {"claflin", "abbie"} <= _said(capsys.readouterr().out)
    root = tmp_path / "store"
    root.mkdir()
    assert cli.main(["vocabulary", "add", "Claflin", "Tacos al pastor", "--store", str(root)]) == 0
    capsys.readouterr()
    assert cli.main(["vocabulary", "list", "--store", str(root)]) == 0
    assert capsys.readouterr().out.splitlines() == ["Claflin", "Tacos al pastor"]
    assert cli.main(["transcribe", str(ami), "--vocabulary", "x" * 51]) == 2
    assert "50" in capsys.readouterr().err


def test_skins_take_vocabulary_and_the_store_list(engine, ami, tmp_path: Path) -> None:
    """Catches: a skin that drops the vocabulary of open_audio / transcribe_audio, no tool for the store's list,
    or SessionStatus not reporting the terms used."""
    import shutil

    from langchain_aero import AudioToolkit

    shutil.copy(ami, tmp_path / "ami.wav")

    async def script(client: Client) -> dict[str, Any]:
        out = {"set": await client.call_tool("store_vocabulary", {"action": "set", "terms": ["Abigail Claflin"]})}
        out["open"] = await client.call_tool("open_audio", {"path": "ami.wav", "vocabulary": ["Abbie"],
                                                             "wait_s": 60})
        sid = out["open"].structured_content["session_id"]
        out["text"] = await client.call_tool("transcribe_audio", {"session_id": sid})
        out["long"] = await client.call_tool("store_vocabulary", {"action": "add", "terms": ["y" * 60]})
        upload = (await client.call_tool("start_upload", {"filename": "ami.wav"})).structured_content["upload_id"]
        chunk = base64.b64encode(ami.read_bytes()).decode()
        await client.call_tool("append_upload", {"upload_id": upload, "offset": 0, "chunk_base64": chunk})
        out["long upload"] = await client.call_tool("finish_upload", {"upload_id": upload, "vocabulary": ["z" * 51]})
        out["upload"] = await client.call_tool("finish_upload", {"upload_id": upload, "vocabulary": ["Quilter"],
                                                                 "wait_s": 60})
        return out

    out = drive(create_server(ServerConfig(allow_dirs=[tmp_path], store_dir=tmp_path / "store"), engine=engine),
                script)
    assert out["set"].structured_content["terms"] == ["Abigail Claflin"]
    assert out["open"].structured_content["vocabulary"] == ["Abbie", "Abigail Claflin"]
    assert {"claflin", "abbie"} <= _said(out["text"].structured_content["text"]), out["text"]
    assert out["long"].is_error
    assert out["long upload"].is_error  # finish_upload checks its vocabulary as open_audio does, before opening
    assert out["upload"].structured_content["vocabulary"] == ["Quilter", "Abigail Claflin"], out["upload"]

    kit = AudioToolkit(engine=engine, store=SessionStore(tmp_path / "lc", engine), allowed_dirs=[tmp_path])
    tools = {t.name: t for t in kit.get_tools()}
    opened = tools["open_audio"].invoke({"path": "ami.wav"})
    sid = kit.store.list()[0].id
    assert "Claflin" not in opened
    redone = tools["transcribe_audio"].invoke({"session_id": sid, "vocabulary": NAMES})
    assert {"claflin", "abbie"} <= _said(redone), redone
    listed = tools["store_vocabulary"].invoke({"action": "add", "terms": ["Quilter"]})
    assert listed.splitlines()[1:] == ["Quilter"]
