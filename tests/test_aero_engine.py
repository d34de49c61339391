"""Aero-1-Audio engine on tiny random checkpoints written in the released on-disk layout."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from aero_agent.audio import AudioClip, load_audio
from aero_agent.data import example_path
from aero_agent.engines.aero import DESCRIBE_PROMPT, AeroEngine
from aero_agent.engines.aero.engine import AUDIO_EMBEDS
from aero_agent.engines.base import EncodedAudio, Engine
from aero_agent.errors import CheckpointError
from aero_agent.results import Turn

from aero_tiny import released_state_dict, save_weights, write_tiny_checkpoint

PACKAGE = Path(__file__).resolve().parent.parent / "aero_agent" / "engines" / "aero"
MICRO = dict(d_model=32, encoder_layers=1, encoder_heads=2, encoder_ffn=64, hidden=32, layers=1, heads=2,
             kv_heads=1, intermediate=64)


def _speech(seconds: float) -> AudioClip:
    """The bundled real recordings (sonnet, JFK, the short AMI clip) joined end to end and looped to ``seconds``.

    Bundled, so every machine runs these tests on the same audio (none needs ../shared/speech)."""
    recordings = [load_audio(example_path(name)).samples for name in ("sonnet", "jfk", "ami-short")]
    parts, total, k = [], 0, 0
    while total < seconds * 16_000:
        parts.append(recordings[k % len(recordings)])
        total += len(parts[-1])
        k += 1
    samples = np.concatenate(parts)[: int(seconds * 16_000)]
    return AudioClip(np.ascontiguousarray(samples), "joined bundled recordings", 16_000, 1)


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    return write_tiny_checkpoint(tmp_path_factory.mktemp("aero") / "tiny")


@pytest.fixture(scope="session")
def aero(tiny_dir) -> AeroEngine:
    return AeroEngine(tiny_dir, max_new_tokens=6, transcribe_max_new_tokens=6)


@pytest.fixture(scope="session")
def clip() -> AudioClip:
    return _speech(45.0)  # two windows: one full (750 tokens), one of 15 s (375 tokens)


@pytest.fixture(scope="session")
def encoded(aero, clip) -> EncodedAudio:
    return aero.encode(clip)


def _turns(*pairs: tuple[str, str]) -> list[Turn]:
    out: list[Turn] = []
    for question, answer in pairs:
        out += [Turn(role="user", content=question), Turn(role="assistant", content=answer)]
    return out


def _roundtrip(encoded: EncodedAudio, folder: Path) -> EncodedAudio:
    """What the store does: tensors through safetensors, meta through JSON."""
    from safetensors.torch import load_file, save_file

    folder.mkdir(parents=True, exist_ok=True)
    assert all(isinstance(k, str) and v.is_contiguous() for k, v in encoded.tensors.items())
    save_file(encoded.tensors, str(folder / "tensors.safetensors"))
    (folder / "meta.json").write_text(json.dumps(encoded.meta))
    return EncodedAudio(engine=encoded.engine, model_id=encoded.model_id, duration_s=encoded.duration_s,
                        tensors=load_file(str(folder / "tensors.safetensors")),
                        meta=json.loads((folder / "meta.json").read_text()))


# ---------------------------------------------------------------- loading


def test_loads_through_public_loader_with_concrete_classes(aero, tiny_dir):
    from transformers import Qwen2AudioEncoder, Qwen2ForCausalLM, Qwen2TokenizerFast

    assert isinstance(aero, Engine)
    assert aero.name == "aero" and aero.capabilities.answer and aero.capabilities.describe
    assert "auto_map" in json.loads((tiny_dir / "config.json").read_text())  # present, and ignored
    assert type(aero.model.audio_tower) is Qwen2AudioEncoder
    assert type(aero.model.audio_modal_projector) is torch.nn.Linear
    assert type(aero.model.language_model) is Qwen2ForCausalLM
    assert isinstance(aero.chat.tokenizer, Qwen2TokenizerFast)
    assert aero.model.config.audio.num_mel_bins == 128 and aero.model.config.audio.max_source_positions == 1500
    ours = dict(aero.model.named_parameters())
    from safetensors.torch import load_file

    stored = load_file(str(tiny_dir / "model.safetensors"))
    assert torch.equal(ours["audio_modal_projector.weight"], stored["audio_modal_projector.linear.weight"])
    assert torch.equal(ours["language_model.lm_head.weight"], stored["language_model.lm_head.weight"])


def test_package_never_uses_remote_code_or_auto_classes():
    source = "\n".join(p.read_text() for p in PACKAGE.glob("*.py"))
    assert "trust_remote_code" not in source
    assert not re.search(r"\bAuto[A-Z]\w*", source)


def test_sharded_checkpoint_with_variant_key_names_loads_the_same(tiny_dir, tmp_path, aero):
    variant = tmp_path / "variant"
    shutil.copytree(tiny_dir, variant, ignore=shutil.ignore_patterns("*.safetensors"))
    state = released_state_dict(json.loads((tiny_dir / "config.json").read_text()), seed=0)
    renamed = {}
    for key, value in state.items():  # the transformers v5 layout: model.* prefix, multi_modal_projector
        key = key.replace("audio_modal_projector.", "multi_modal_projector.")
        if key == "language_model.lm_head.weight":
            key = "lm_head.weight"
        key = key.replace("language_model.model.", "language_model.")
        renamed["model." + key if not key.startswith("lm_head") else key] = value
    save_weights(renamed, variant, shards=3)
    other = AeroEngine(variant)
    for name, param in aero.model.named_parameters():
        assert torch.equal(param, dict(other.model.named_parameters())[name]), name


def test_missing_shard_names_the_path_and_key(tiny_dir, tmp_path):
    broken = tmp_path / "sharded"
    shutil.copytree(tiny_dir, broken, ignore=shutil.ignore_patterns("*.safetensors"))
    save_weights(released_state_dict(json.loads((tiny_dir / "config.json").read_text()), seed=0), broken, shards=2)
    shard = broken / "model-00002-of-00002.safetensors"
    shard.unlink()
    with pytest.raises(CheckpointError) as info:
        AeroEngine(broken)
    message = str(info.value)
    assert str(shard) in message and re.search(r"'(audio_tower|audio_modal_projector|language_model)\.[\w.]+'", message)


def test_wrong_shape_names_the_path_key_and_shapes(tiny_dir, tmp_path):
    broken = tmp_path / "wrong"
    shutil.copytree(tiny_dir, broken, ignore=shutil.ignore_patterns("*.safetensors"))
    state = released_state_dict(json.loads((tiny_dir / "config.json").read_text()), seed=0)
    key = "language_model.model.layers.0.mlp.up_proj.weight"
    good = tuple(state[key].shape)
    state[key] = torch.zeros(good[0] + 1, good[1])
    save_weights(state, broken)
    with pytest.raises(CheckpointError) as info:
        AeroEngine(broken)
    message = str(info.value)
    assert str(broken / "model.safetensors") in message and key in message
    assert str((good[0] + 1, good[1])) in message and str(good) in message


def test_missing_tensor_and_bad_config_are_checkpoint_errors(tiny_dir, tmp_path):
    broken = tmp_path / "missing"
    shutil.copytree(tiny_dir, broken, ignore=shutil.ignore_patterns("*.safetensors"))
    state = released_state_dict(json.loads((tiny_dir / "config.json").read_text()), seed=0)
    del state["audio_tower.layers.0.fc1.weight"]
    save_weights(state, broken)
    with pytest.raises(CheckpointError, match=r"audio_tower\.layers\.0\.fc1\.weight"):
        AeroEngine(broken)
    config = json.loads((broken / "config.json").read_text())
    (broken / "config.json").write_text(json.dumps({**config, "model_type": "llava"}))
    with pytest.raises(CheckpointError, match="model_type"):
        AeroEngine(broken)
    with pytest.raises(CheckpointError, match="no such checkpoint folder"):
        AeroEngine(tmp_path / "nowhere")


# ---------------------------------------------------------------- numerics


def _reference_key(stored: str, names: set[str]) -> str:
    """The name of a stored tensor in transformers' Qwen2AudioForConditionalGeneration, in either of its layouts.

    Up to 5.23 it keeps the released names (``audio_tower.``, ``language_model.model.``); 5.24 moved
    everything under ``model.`` with ``lm_head`` at the top. Only the projector is always renamed.
    """
    old = stored.replace("audio_modal_projector.", "multi_modal_projector.")
    if old.startswith("audio_tower.") or old.startswith("multi_modal_projector."):
        new = "model." + old
    elif old == "language_model.lm_head.weight":
        new = "lm_head.weight"
    else:
        new = old.replace("language_model.model.", "model.language_model.")
    found = [name for name in (old, new) if name in names]
    assert len(found) == 1, (stored, found)
    return found[0]


def test_logits_match_transformers_qwen2audio(aero, tiny_dir, clip):
    """Same weights in Qwen2AudioForConditionalGeneration give the same logits at the text positions."""
    from safetensors.torch import load_file
    from transformers import Qwen2AudioConfig, Qwen2AudioForConditionalGeneration

    cfg = Qwen2AudioConfig(audio_config=aero.config.audio.to_dict(), text_config=aero.config.text.to_dict(),
                           audio_token_index=aero.config.audio_token_index)
    cfg._attn_implementation = "sdpa"
    reference = Qwen2AudioForConditionalGeneration(cfg).eval()
    names = set(reference.state_dict())
    mapped = {_reference_key(key, names): value
              for key, value in load_file(str(tiny_dir / "model.safetensors")).items()}
    missing, unexpected = reference.load_state_dict(mapped, strict=False)
    assert not unexpected and all("rotary" in m for m in missing)

    windows, _ = aero.plan(len(clip.samples))
    assert [w.tokens for w in windows] == [750, 375]
    features, valid = aero.features.features(clip.samples, windows)
    prefix = aero.chat.prefix(windows)
    suffix = aero.chat.conversation([("user", "What is the speaker talking about?")])
    ids = torch.tensor([prefix + suffix])
    frame_mask = (torch.arange(features.shape[-1])[None, :] < torch.tensor(valid)[:, None]).long()
    with torch.no_grad():
        expected = reference(input_ids=ids, input_features=features, feature_attention_mask=frame_mask,
                             attention_mask=torch.ones_like(ids)).logits[0, len(prefix):]
        audio = torch.cat(aero.model.encode_windows(features, valid))
        cache = aero.decoder.new_cache()
        aero.decoder.prefill_audio(cache, prefix, audio, aero.config.audio_token_index)
        ours = aero.model.logits(aero.model.forward_hidden(aero.model.embed(torch.tensor(suffix)), cache))[0]
    torch.testing.assert_close(ours, expected, rtol=1e-4, atol=1e-4)


def test_fifteen_minutes_is_one_pass_of_22500_audio_positions(tmp_path_factory):
    micro = AeroEngine(write_tiny_checkpoint(tmp_path_factory.mktemp("aero") / "micro", **MICRO),
                       max_new_tokens=4, encoder_batch=6)
    fifteen = _speech(15 * 60.0)
    seen = []
    encoded = micro.encode(fifteen, progress=lambda p: seen.append((p.done, p.total)))
    assert seen == [(i, 30) for i in range(1, 31)]
    meta, tensors = encoded.meta, encoded.tensors
    assert len(meta["windows"]) == 30 and len(meta["segments"]) == 1
    assert meta["audio_tokens"] == 22_500 == tensors[AUDIO_EMBEDS].shape[0]
    prefix = tensors["seg0.prefix_ids"]
    assert int((prefix == micro.config.audio_token_index).sum()) == 22_500
    assert tensors["seg0.kv.0.k"].shape[-2] == prefix.numel() == meta["segments"][0]["prefix_len"]
    reply = micro.answer(encoded, "Summarise the recording in one line.", [])
    follow = micro.answer(encoded, "Who speaks first?", _turns(("Summarise the recording in one line.", reply.text)))
    assert follow.prefilled_tokens < 40 and follow.metadata["cached_tokens"] > 22_500


# ---------------------------------------------------------------- conversation cache


def test_cached_greedy_equals_full_recompute_over_three_turns(aero, encoded):
    history: list[Turn] = []
    prefix_len = encoded.meta["segments"][0]["prefix_len"]
    for number, question in enumerate(["What is the speaker talking about?", "Who speaks first?",
                                       "Summarise the recording in one line."], 1):
        cached = aero.answer(encoded, question, history)
        full = aero.answer(encoded, question, history, reuse_cache=False)
        assert cached.metadata["token_ids"] == full.metadata["token_ids"] and cached.text == full.text
        assert full.prefilled_tokens > prefix_len
        assert cached.prefilled_tokens < 40 and cached.metadata["cached_tokens"] >= prefix_len
        if number > 1:  # a follow-up reuses the earlier turns too, not just the audio
            assert cached.metadata["cached_tokens"] > prefix_len + 10
        history += _turns((question, cached.text))
    turn_ids = encoded.tensors["seg0.turn_ids"]
    assert encoded.meta["segments"][0]["turn_tokens"] == turn_ids.numel() == encoded.tensors["seg0.turn.0.k"].shape[-2]


def test_history_that_differs_from_the_cache_falls_back_correctly(aero, encoded):
    aero.answer(encoded, "What is the speaker talking about?", [])
    edited = _turns(("Describe the voice.", "A calm voice."))  # not what the cache holds
    cached = aero.answer(encoded, "And the music?", edited + [Turn(role="tool", content="ignored")])
    full = aero.answer(encoded, "And the music?", edited, reuse_cache=False)
    assert cached.metadata["token_ids"] == full.metadata["token_ids"]
    assert cached.metadata["cached_tokens"] >= encoded.meta["segments"][0]["prefix_len"]


def test_restored_encoding_answers_identically_without_reencoding(aero, tiny_dir, clip, tmp_path):
    encoded = aero.encode(clip)
    first = aero.answer(encoded, "What is the speaker talking about?", [])
    history = _turns(("What is the speaker talking about?", first.text))
    restored = _roundtrip(encoded, tmp_path / "store")
    assert json.loads(json.dumps(restored.meta)) == encoded.meta
    fresh = AeroEngine(tiny_dir, max_new_tokens=6)  # a new process: no live caches
    fresh.model.encode_windows = None  # would raise if the audio were encoded again
    again = fresh.answer(restored, "Who speaks first?", history)
    original = aero.answer(encoded, "Who speaks first?", history)
    assert again.metadata["token_ids"] == original.metadata["token_ids"]
    assert again.metadata["recomputed_prefix_tokens"] == 0
    assert again.prefilled_tokens == original.prefilled_tokens < 40


def test_without_stored_prefix_kv_a_restore_recomputes_only_the_language_model(tiny_dir, clip, tmp_path):
    lean = AeroEngine(tiny_dir, max_new_tokens=6, keep_prefix_kv=False)
    encoded = lean.encode(clip)
    assert not any(".kv." in name for name in encoded.tensors)
    first = lean.answer(encoded, "What is the speaker talking about?", [])
    history = _turns(("What is the speaker talking about?", first.text))
    fresh = AeroEngine(tiny_dir, max_new_tokens=6, keep_prefix_kv=False)
    fresh.model.encode_windows = None
    again = fresh.answer(_roundtrip(encoded, tmp_path / "lean"), "Who speaks first?", history)
    assert again.metadata["recomputed_prefix_tokens"] == encoded.meta["segments"][0]["prefix_len"]
    assert again.metadata["token_ids"] == lean.answer(encoded, "Who speaks first?", history).metadata["token_ids"]


# ---------------------------------------------------------------- transcripts, description, long audio


def test_transcribe_gives_window_times_and_is_reused(aero, encoded, monkeypatch):
    """Catches segments with wrong window bounds, a window silently dropped, and a transcript recomputed on
    every call (the decoder is made to raise once the first transcript exists)."""
    transcript = aero.transcribe(encoded)
    texts = encoded.meta["window_transcripts"]
    assert len(texts) == 2 and all(isinstance(t, str) for t in texts)
    bounds = [(0.0, 30.0), (30.0, 45.0)]
    assert [(s.start, s.end, s.text) for s in transcript.segments] == [(*b, t) for b, t in zip(bounds, texts) if t]
    assert transcript.segments, "the tiny checkpoint produced no text for either window"
    assert transcript.duration_s == pytest.approx(45.0)

    def no_second_decode(*args, **kwargs):
        raise AssertionError("the transcript was decoded again instead of reused")

    monkeypatch.setattr(aero.decoder, "answer", no_second_decode)
    monkeypatch.setattr(aero.decoder, "prefill_audio", no_second_decode)
    assert aero.transcribe(encoded) == transcript


def test_describe_uses_the_exported_prompt(aero, encoded):
    """Catches ``describe`` sending any prompt but :data:`DESCRIBE_PROMPT`: the prompt's token ids must be in
    the turn the engine cached, and the reply's token ids those of asking that prompt directly."""
    reply = aero.describe(encoded)
    assert reply.generated_tokens > 0
    prompt_ids = aero.chat.tokenizer.encode(DESCRIBE_PROMPT, add_special_tokens=False)
    turn_ids = encoded.tensors["seg0.turn_ids"].tolist()
    assert any(turn_ids[i:i + len(prompt_ids)] == prompt_ids for i in range(len(turn_ids) - len(prompt_ids) + 1))
    direct = aero.answer(encoded, DESCRIBE_PROMPT, [], reuse_cache=False)
    assert reply.metadata["token_ids"] == direct.metadata["token_ids"]


def test_audio_longer_than_the_context_is_answered_in_merged_segments(tiny_dir, clip):
    small = AeroEngine(tiny_dir, max_context_tokens=1200, reserve_tokens=300, max_new_tokens=4)
    encoded = small.encode(clip)
    assert [(s["first_window"], s["last_window"]) for s in encoded.meta["segments"]] == [(0, 1), (1, 2)]
    reply = small.answer(encoded, "What is the speaker talking about?", [])
    assert reply.metadata["segments"] == 2 and len(reply.metadata["partial_answers"]) == 2
    follow = small.answer(encoded, "Who speaks first?", _turns(("What is the speaker talking about?", reply.text)))
    assert follow.metadata["segments"] == 2


# ---------------------------------------------------------------- checkpoints as released (issue 14)


@pytest.mark.parametrize("unk_entry", [True, False], ids=["unk_token-null", "no-unk_token"])
def test_checkpoint_loads_with_or_without_an_unk_token_entry(tmp_path, aero, unk_entry):
    """Catches comparing special ids with the unknown id: without an ``unk_token`` entry Qwen2Tokenizer makes
    ``<|endoftext|>`` the unknown token, and such a check refuses a valid checkpoint."""
    from aero_agent.engines.aero.processor import ChatTokens

    folder = write_tiny_checkpoint(tmp_path / "tok", unk_entry=unk_entry, **MICRO)
    assert ("unk_token" in json.loads((folder / "tokenizer_config.json").read_text())) is unk_entry
    chat = ChatTokens(folder, json.loads((folder / "config.json").read_text())["audio_token_index"])
    assert (chat.im_start, chat.im_end, chat.endoftext) == (aero.chat.im_start, aero.chat.im_end, aero.chat.endoftext)
    assert chat.header() == aero.chat.header()
    if not unk_entry:
        assert chat.tokenizer.unk_token == "<|endoftext|>"  # the situation the issue describes
        assert AeroEngine(folder, max_new_tokens=2).chat.endoftext == aero.chat.endoftext


def test_a_tokenizer_without_a_chat_token_is_still_refused(tmp_path):
    """Catches dropping the special-token check altogether: a vocabulary without ``<|im_end|>`` is refused."""
    from aero_agent.engines.aero.processor import ChatTokens

    folder = write_tiny_checkpoint(tmp_path / "tok", unk_entry=False, **MICRO)
    data = json.loads((folder / "tokenizer.json").read_text())
    data["added_tokens"] = [t for t in data["added_tokens"] if t["content"] != "<|im_end|>"]
    (folder / "tokenizer.json").write_text(json.dumps(data))
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config["added_tokens_decoder"] = {k: v for k, v in config["added_tokens_decoder"].items()
                                      if v["content"] != "<|im_end|>"}
    config["eos_token"] = "<|endoftext|>"
    config["additional_special_tokens"] = [t for t in config["additional_special_tokens"] if t != "<|im_end|>"]
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=re.escape("no <|im_end|> token")):
        ChatTokens(folder, json.loads((folder / "config.json").read_text())["audio_token_index"])


def _set_text_config(folder: Path, **values) -> None:
    config = json.loads((folder / "config.json").read_text())
    config["text_config"].update(values)
    (folder / "config.json").write_text(json.dumps(config))


def test_tied_config_ties_the_head_and_warns_about_a_contradicting_stored_head(tmp_path, caplog):
    """Catches tying only when ``lm_head`` is missing: with ``text_config.tie_word_embeddings`` true the head must
    be the embedding matrix (as upstream ties it), and a stored head that differs gets a warning."""
    folder = write_tiny_checkpoint(tmp_path / "tied", **MICRO)  # stores an untied, different head
    _set_text_config(folder, tie_word_embeddings=True)
    with caplog.at_level("WARNING", logger="aero_agent.engines.aero.checkpoint"):
        engine = AeroEngine(folder, max_new_tokens=2)
    lm = engine.model.language_model
    assert lm.lm_head.weight.data_ptr() == lm.model.embed_tokens.weight.data_ptr()
    assert any("tie_word_embeddings is true" in r.getMessage() and "lm_head" in r.getMessage()
               for r in caplog.records)


def test_tied_checkpoint_without_a_head_loads_and_untied_one_without_a_head_is_refused(tmp_path, caplog):
    """Catches tying against the config: no stored head is fine when the config ties (no warning), and is a
    CheckpointError naming ``lm_head`` when it does not (the head would otherwise be random)."""
    tied = write_tiny_checkpoint(tmp_path / "tied", tie_word_embeddings=True, store_head=False, **MICRO)
    with caplog.at_level("WARNING", logger="aero_agent.engines.aero.checkpoint"):
        lm = AeroEngine(tied, max_new_tokens=2).model.language_model
    assert torch.equal(lm.lm_head.weight, lm.model.embed_tokens.weight)
    assert not [r for r in caplog.records if "tie_word_embeddings" in r.getMessage()]
    untied = write_tiny_checkpoint(tmp_path / "untied", store_head=False, **MICRO)
    with pytest.raises(CheckpointError, match=r"lm_head.*tie_word_embeddings is false"):
        AeroEngine(untied)


def test_an_untied_config_keeps_the_stored_head(aero):
    """Catches tying unconditionally: the tiny checkpoint says false, so its own head is used."""
    lm = aero.model.language_model
    assert lm.lm_head.weight.data_ptr() != lm.model.embed_tokens.weight.data_ptr()
    assert not torch.equal(lm.lm_head.weight, lm.model.embed_tokens.weight)


@pytest.mark.parametrize("part,kind", [("audio_config", "qwen2_5_omni_audio_encoder"), ("audio_config", "whisper"),
                                       ("text_config", "qwen3")])
def test_an_encoder_or_decoder_type_we_do_not_build_is_refused(tiny_dir, tmp_path, part, kind):
    """Catches ignoring ``audio_config.model_type`` (and text_config's): Qwen2.5-Omni's encoder would be built as
    a Qwen2-Audio encoder; the error names the section, the type and what is supported."""
    from aero_agent.engines.aero.config import load_config

    folder = tmp_path / "other"
    shutil.copytree(tiny_dir, folder, ignore=shutil.ignore_patterns("*.safetensors"))
    config = json.loads((folder / "config.json").read_text())
    config[part]["model_type"] = kind
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=rf"{part}\.model_type is '{kind}'.*only '"):
        load_config(folder)
    assert load_config(tiny_dir).audio.model_type == "qwen2_audio_encoder"


def test_the_cache_goes_under_the_name_this_transformers_forward_declares(aero):
    """Catches hard-coding ``cache=`` (5.24) or ``past_key_values=`` (5.0-5.23): a name the installed
    ``Qwen2Model.forward`` does not declare is swallowed by ``**kwargs`` and every turn silently recomputes."""
    import inspect

    from transformers import Qwen2Model

    from aero_agent.engines.aero.model import CACHE_KEYWORD

    assert CACHE_KEYWORD in inspect.signature(Qwen2Model.forward).parameters
    cache = aero.decoder.new_cache()
    aero.model.forward_hidden(aero.model.embed(torch.tensor(aero.chat.header())), cache)
    assert cache.get_seq_length() == len(aero.chat.header())
