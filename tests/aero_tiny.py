"""Write a tiny, randomly initialised Aero-1-Audio checkpoint in the released on-disk layout.

config.json (model_type "aero", audio_config, text_config, audio_token_index and an auto_map that
must be ignored), model.safetensors or shards with model.safetensors.index.json, a ChatML BPE
tokenizer (tokenizer.json + tokenizer_config.json, loadable by ``Qwen2TokenizerFast``) and
preprocessor_config.json. 128 mel bins and 1500 source positions keep the token arithmetic real.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|AUDIO|>", "<|audio_bos|>", "<|audio_eos|>"]
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
               r"\s*[\r\n]+|\s+(?!\S)|\s+")
CORPUS = [
    "You are a helpful assistant.", "Please transcribe the audio", "What is the speaker talking about?",
    "Describe the sounds, the music and the emotion of each speaker.", "Summarise the recording in one line.",
    "the quick brown fox jumps over the lazy dog", "Who speaks first, and what do they ask?",
    "system user assistant", "Combine the partial answers into one answer.", "Part of the recording",
]

TINY_DIMS: dict[str, Any] = dict(
    d_model=64, encoder_layers=2, encoder_heads=4, encoder_ffn=128,
    hidden=64, layers=2, heads=4, kv_heads=2, intermediate=128, vocab=None, init_std=0.1,
)


def build_tokenizer(vocab_size: int = 400):
    """A byte-level BPE with Qwen2's pre-tokenizer and the ChatML/audio special tokens appended last."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(CORPUS * 4, trainer)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    return tok


def _tokenizer_config(tok, unk_entry: bool = True) -> dict[str, Any]:
    """Qwen2.5's tokenizer_config.json; ``unk_entry=False`` omits ``unk_token`` as some exports do."""
    added = {str(tok.token_to_id(t)): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                                       "single_word": False, "special": True} for t in SPECIAL_TOKENS}
    config = {
        "tokenizer_class": "Qwen2Tokenizer", "model_max_length": 32768, "errors": "replace",
        "bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "unk_token": None,
        "clean_up_tokenization_spaces": False, "split_special_tokens": False,
        "added_tokens_decoder": added, "additional_special_tokens": SPECIAL_TOKENS[1:],
    }
    if not unk_entry:
        del config["unk_token"]
    return config


def aero_config(tok, dims: dict[str, Any], tie_word_embeddings: bool = False) -> dict[str, Any]:
    """config.json contents in the released layout (with an auto_map that loaders must ignore)."""
    return {
        "architectures": ["AeroForConditionalGeneration"],
        "auto_map": {"AutoConfig": "configuration_aero.AeroConfig",
                     "AutoModelForCausalLM": "modeling_aero.AeroForConditionalGeneration"},
        "model_type": "aero",
        "audio_token_index": tok.token_to_id("<|AUDIO|>"),
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        "audio_config": {
            "model_type": "qwen2_audio_encoder", "num_mel_bins": 128, "max_source_positions": 1500,
            "d_model": dims["d_model"], "encoder_layers": dims["encoder_layers"],
            "num_hidden_layers": dims["encoder_layers"], "encoder_attention_heads": dims["encoder_heads"],
            "encoder_ffn_dim": dims["encoder_ffn"], "activation_function": "gelu", "scale_embedding": False,
            "dropout": 0.0, "attention_dropout": 0.0, "activation_dropout": 0.0, "encoder_layerdrop": 0.0,
            "init_std": dims["init_std"],
        },
        "text_config": {
            "model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"], "hidden_size": dims["hidden"],
            "num_hidden_layers": dims["layers"], "num_attention_heads": dims["heads"],
            "num_key_value_heads": dims["kv_heads"], "intermediate_size": dims["intermediate"],
            "vocab_size": dims["vocab"], "max_position_embeddings": 32768, "rope_theta": 1000000.0,
            "rms_norm_eps": 1e-6, "hidden_act": "silu", "use_sliding_window": False, "sliding_window": 32768,
            "max_window_layers": dims["layers"], "tie_word_embeddings": tie_word_embeddings,
            "bos_token_id": tok.token_to_id("<|endoftext|>"), "eos_token_id": tok.token_to_id("<|im_end|>"),
            "initializer_range": dims["init_std"], "torch_dtype": "float32",
        },
    }


def released_state_dict(config: dict[str, Any], seed: int) -> dict[str, torch.Tensor]:
    """Random weights under the released key names (``audio_modal_projector.linear.*``, ``language_model.*``)."""
    from transformers import Qwen2AudioEncoder, Qwen2AudioEncoderConfig, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    skip = ("model_type", "num_hidden_layers", "init_std")
    audio = {k: v for k, v in config["audio_config"].items() if k not in skip}
    audio_cfg = Qwen2AudioEncoderConfig(**audio, initializer_range=config["audio_config"]["init_std"])
    text = {k: v for k, v in config["text_config"].items() if k not in ("model_type", "architectures", "torch_dtype")}
    encoder = Qwen2AudioEncoder(audio_cfg)
    lm = Qwen2ForCausalLM(Qwen2Config(**text))
    projector = torch.nn.Linear(audio_cfg.d_model, config["text_config"]["hidden_size"])
    std = config["audio_config"]["init_std"]
    state: dict[str, torch.Tensor] = {}
    for name, tensor in encoder.state_dict().items():
        state[f"audio_tower.{name}"] = tensor
    state["audio_tower.embed_positions.weight"] = torch.randn_like(state["audio_tower.embed_positions.weight"]) * std
    with torch.no_grad():
        projector.weight.normal_(0.0, std)
        projector.bias.normal_(0.0, std)
    state["audio_modal_projector.linear.weight"] = projector.weight.detach()
    state["audio_modal_projector.linear.bias"] = projector.bias.detach()
    for name, tensor in lm.state_dict().items():
        if "rotary_emb" not in name:
            state[f"language_model.{name}"] = tensor
    # Non-trivial norms and biases so that a wrongly loaded tensor shows in the outputs.
    for name, tensor in state.items():
        if name.endswith(("layer_norm.weight", "norm.weight")):
            state[name] = 1.0 + 0.1 * torch.randn_like(tensor)
        elif name.endswith("bias") and tensor.abs().sum() == 0:
            state[name] = 0.02 * torch.randn_like(tensor)
    return {k: v.detach().to(torch.float32).contiguous().clone() for k, v in state.items()}


def save_weights(state: dict[str, torch.Tensor], path: Path, shards: int = 1) -> None:
    """``model.safetensors``, or ``shards`` files with ``model.safetensors.index.json``."""
    from safetensors.torch import save_file

    if shards <= 1:
        save_file(state, str(path / "model.safetensors"), metadata={"format": "pt"})
        return
    names = list(state)
    weight_map: dict[str, str] = {}
    for i in range(shards):
        part = names[i::shards]
        file = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        save_file({n: state[n] for n in part}, str(path / file), metadata={"format": "pt"})
        weight_map.update({n: file for n in part})
    total = sum(t.numel() * t.element_size() for t in state.values())
    (path / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2))


def write_tiny_checkpoint(path: str | Path, shards: int = 1, seed: int = 0, unk_entry: bool = True,
                          tie_word_embeddings: bool = False, store_head: bool = True, weights: bool = True,
                          **dims: Any) -> Path:
    """Write the whole checkpoint folder to ``path`` and return it.

    ``unk_entry=False`` leaves ``unk_token`` out of tokenizer_config.json; ``tie_word_embeddings`` goes
    into text_config, and ``store_head=False`` saves no ``lm_head`` (as tied checkpoints do).
    ``weights=False`` writes everything but the safetensors (for ``random_weights_seed`` at any size).
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    merged = {**TINY_DIMS, **dims}
    tok = build_tokenizer()
    tok.save(str(path / "tokenizer.json"))
    (path / "tokenizer_config.json").write_text(json.dumps(_tokenizer_config(tok, unk_entry), indent=2))
    if merged["vocab"] is None:  # default: exactly the tokenizer, so every generated id decodes
        merged["vocab"] = tok.get_vocab_size(with_added_tokens=True)
    config = aero_config(tok, merged, tie_word_embeddings)
    (path / "config.json").write_text(json.dumps(config, indent=2))
    (path / "preprocessor_config.json").write_text(json.dumps({
        "feature_extractor_type": "WhisperFeatureExtractor", "feature_size": 128, "sampling_rate": 16000,
        "hop_length": 160, "chunk_length": 30, "n_fft": 400, "n_samples": 480000, "nb_max_frames": 3000,
        "padding_side": "right", "padding_value": 0.0, "return_attention_mask": True,
        "processor_class": "AeroProcessor",
    }, indent=2))
    if not weights:
        return path
    state = released_state_dict(config, seed)
    if not store_head:
        del state["language_model.lm_head.weight"]
    save_weights(state, path, shards=shards)
    return path
