"""Building the pair's tiny model: random Qwen2 weights and a BPE tokenizer, locally and deterministically.

The recipe (shape, dtype, seed) is :class:`labs_py.captures.tiny_model.TinyModelSpec`;
this module turns it into files vLLM can serve: a Qwen2 ``config.json``, random
weights drawn from the seed (safetensors), and a byte-level BPE tokenizer trained
with ``tokenizers`` on a synthetic corpus that is also made from the seed. The
same seed gives the same files, byte for byte, on any machine of this class.
torch and transformers are imported inside the functions that need them: this
runs in the pair's environment (``.venv-pair``).
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

from labs_py.captures.tiny_model import TinyModelSpec, kv_bytes_per_token

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


# ---- the synthetic corpus ------------------------------------------------------
_ONSETS = (
    "",
    "b",
    "c",
    "d",
    "f",
    "g",
    "h",
    "k",
    "l",
    "m",
    "n",
    "p",
    "r",
    "s",
    "t",
    "v",
    "w",
    "z",
    "br",
    "ch",
    "cl",
    "dr",
    "fr",
    "gl",
    "kr",
    "pl",
    "pr",
    "sh",
    "sk",
    "st",
    "th",
    "tr",
)
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ea", "ou", "io", "y")
_CODAS = ("", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ck", "ng", "x")


def synthetic_corpus(
    seed: int = 0, n_words: int = 6000, n_lines: int = 20000
) -> list[str]:
    """Lines of pseudo-English made from ``seed`` alone (no file, no download).

    A lexicon of ``n_words`` pseudo-words is drawn from syllables, then lines are
    sampled from it with Zipf-like frequencies, with digits and punctuation
    mixed in, so that byte-level BPE finds enough merges to fill a 4096-entry
    vocabulary. Same seed, same corpus, on any machine.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    rng = random.Random(seed)
    lexicon: list[str] = []
    seen: set[str] = set()
    while len(lexicon) < n_words:
        word = "".join(
            rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS)
            for _ in range(rng.randint(1, 4))
        )
        if word and word not in seen:
            seen.add(word)
            lexicon.append(word)
    weights = [1.0 / (rank + 1) for rank in range(n_words)]
    punct = (".", ",", ";", ":", "?", "!", " -", " (", ")")
    lines = []
    for _ in range(n_lines):
        words = rng.choices(lexicon, weights=weights, k=rng.randint(4, 18))
        if rng.random() < 0.2:
            words.insert(rng.randrange(len(words)), str(rng.randint(0, 9999)))
        if rng.random() < 0.5:
            words[0] = words[0].capitalize()
        lines.append(" ".join(words) + rng.choice(punct))
    return lines


def train_tokenizer(spec: TinyModelSpec = TinyModelSpec()):
    """A byte-level BPE ``PreTrainedTokenizerFast`` with exactly ``spec.vocab_size`` entries.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=spec.vocab_size,
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(synthetic_corpus(spec.seed), trainer=trainer)
    got = tok.get_vocab_size()
    if got != spec.vocab_size:
        raise RuntimeError(
            f"tokenizer vocabulary has {got} entries; the model expects {spec.vocab_size}"
        )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        bos_token=None,
        unk_token=None,
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def _dir_digest(path: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(
        p for p in path.rglob("*") if p.is_file() and p.name != "BUILD.json"
    ):
        h.update(f.relative_to(path).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def build_tiny_model(
    out_dir: str | Path, spec: TinyModelSpec = TinyModelSpec(), force: bool = False
) -> dict:
    """Write config, random weights (safetensors) and tokenizer to ``out_dir``; return its manifest.

    Idempotent: when ``out_dir/BUILD.json`` records the same spec and the files
    still hash to the recorded digest, nothing is rebuilt. The manifest (spec,
    parameter count, KV bytes per token, SHA-256 of the files) goes into
    captures, so a reader can tell which model a capture ran.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    out = Path(out_dir)
    manifest_path = out / "BUILD.json"
    if manifest_path.exists() and not force:
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("spec") == spec.to_dict() and manifest.get(
            "sha256"
        ) == _dir_digest(out):
            return manifest

    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    out.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(spec)
    config = Qwen2Config(
        vocab_size=spec.vocab_size,
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_key_value_heads,
        head_dim=spec.head_dim,
        max_position_embeddings=spec.max_position_embeddings,
        tie_word_embeddings=True,
        initializer_range=spec.initializer_range,
        rope_theta=10000.0,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        torch_dtype=spec.dtype,
    )
    torch.manual_seed(spec.seed)
    model = Qwen2ForCausalLM(config).to(getattr(torch, spec.dtype)).eval()
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    n_params = sum(p.numel() for p in model.parameters())
    manifest = {
        "spec": spec.to_dict(),
        "parameters": int(n_params),
        "kv_bytes_per_token": kv_bytes_per_token(spec),
        "sha256": _dir_digest(out),
    }
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def hf_greedy_tokens(
    model_dir: str | Path, prompt_token_ids: list[int], max_new_tokens: int
) -> list[int]:
    """Greedy continuation with HF ``transformers`` (a reference independent of vLLM).

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    ids = torch.tensor([prompt_token_ids])
    with torch.no_grad():
        out = model.generate(
            ids,
            max_new_tokens=max_new_tokens,
            min_new_tokens=max_new_tokens,
            do_sample=False,
            attention_mask=torch.ones_like(ids),
        )
    return out[0, len(prompt_token_ids) :].tolist()
