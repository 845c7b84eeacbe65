"""LAION-CLAP's own embeddings of fixed signals and prompts under seeded weights: the golden file
that syncfoley's CLAP is checked against (issue 19).

Runs in a separate virtual environment holding LAION's code as its users have it, never in
syncfoley's own (laion-clap pins numpy<2 and pulls wandb, webdataset, h5py, pandas...):

    python3 -m venv /tmp/clapref && . /tmp/clapref/bin/activate
    pip install torch 'laion-clap==1.1.7' 'transformers<5' pillow   # (laion-clap imports PIL undeclared)
    HF_HUB_OFFLINE=1 python bench/clap_reference.py tests/data/clap

Nothing is downloaded. laion-clap fetches three tokenizers from the Hugging Face hub when it is
imported and roberta-base's weights when CLAP_Module is built; here those calls are answered
from files this script writes: roberta-base's architecture from its published sizes (random
weights: they are replaced by the seeded ones anyway) and a small byte-level RoBERTa tokenizer
(every byte, the special tokens and a few merges), written to ``OUT/tokenizer`` for the tests.

Writes into OUT:
- ``keys.json``: every key of ``CLAP_Module.model``'s state dict (SyncFusion stores it under
  ``clap.model.``): shape, dtype, and whether it is learned (seeded in the golden run) or fixed
  (buffers and frozen filterbanks: kept as LAION builds them, recorded by checksum);
- ``golden.npz``: the audio embedding of each signal of ``tests/clap_seeded.signals()`` (after
  the int16 round trip SyncFusion applies), the log-mel LAION's front end makes of the first,
  the text embeddings of ``PROMPTS`` and their token ids and attention masks;
- ``tokenizer/``: ``vocab.json`` and ``merges.txt``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

ROBERTA_BASE = dict(vocab_size=50265, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                    intermediate_size=3072, hidden_act="gelu", hidden_dropout_prob=0.1,
                    attention_probs_dropout_prob=0.1, max_position_embeddings=514, type_vocab_size=1,
                    initializer_range=0.02, layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0, eos_token_id=2)
MERGES = [("Ġ", "c"), ("g", "l"), ("a", "l"), ("e", "t"), ("o", "o"), ("Ġc", "l"), ("Ġ", "s"), ("i", "n")]


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's printable stand-ins for the 256 bytes (the byte-level BPE alphabet)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    chars = keep[:]
    n = 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + n)
            n += 1
    return dict(zip(keep, (chr(c) for c in chars)))


def write_tokenizer(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for ch in bytes_to_unicode().values():
        vocab[ch] = len(vocab)
    for a, b in MERGES:
        vocab[a + b] = len(vocab)
    vocab["<mask>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False, indent=0) + "\n")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in MERGES))


def stub_torchvision() -> None:
    """laion-clap imports torchvision (which it does not declare) for image models and fusion
    only; HTSAT-tiny without fusion never calls it. Without torchvision, names that fail if used."""
    try:
        import torchvision  # noqa: F401
        return
    except ImportError:
        pass
    import types

    class Unused:
        def __init__(self, *a, **k):
            raise RuntimeError("torchvision is stubbed: this path of laion-clap is not the one checked")

    def module(name: str) -> types.ModuleType:
        m = types.ModuleType(name)
        m.__getattr__ = lambda attr: Unused  # type: ignore[method-assign]
        sys.modules[name] = m
        return m

    for name in ("torchvision", "torchvision.ops", "torchvision.ops.misc", "torchvision.datasets",
                 "torchvision.transforms"):
        module(name)


def checksum(t) -> dict:
    import numpy as np

    a = t.detach().cpu().numpy()
    return {"sha256": hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest(),
            "sum": float(a.astype(np.float64).sum()), "abs_sum": float(np.abs(a.astype(np.float64)).sum())}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path)
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import clap_seeded as cs
    import numpy as np
    import torch
    import transformers

    out: Path = args.out
    tok_dir = out / "tokenizer"
    write_tokenizer(tok_dir)

    def tokenizer(*_a, **_k):
        return transformers.RobertaTokenizer(str(tok_dir / "vocab.json"), str(tok_dir / "merges.txt"))

    def roberta(*_a, **_k):
        torch.manual_seed(0)
        return transformers.RobertaModel(transformers.RobertaConfig(**ROBERTA_BASE))

    # laion-clap's hub calls, answered locally (Bert and Bart tokenizers are loaded, never used).
    transformers.RobertaTokenizer.from_pretrained = tokenizer
    transformers.BertTokenizer.from_pretrained = lambda *a, **k: None
    transformers.BartTokenizer.from_pretrained = lambda *a, **k: None
    transformers.RobertaModel.from_pretrained = roberta
    stub_torchvision()
    import laion_clap

    module = laion_clap.CLAP_Module(enable_fusion=False, amodel="HTSAT-tiny", device="cpu")
    model = module.model
    params = dict(model.named_parameters())
    state = model.state_dict()
    spec = {}
    for key, value in state.items():
        learned = key in params and params[key].requires_grad and value.is_floating_point()
        spec[key] = {"shape": list(value.shape), "dtype": str(value.dtype).replace("torch.", ""),
                     "kind": "learned" if learned else "fixed", **({} if learned else checksum(value))}
    seeded = cs.learned_state(spec)
    model.load_state_dict({**state, **{k: torch.from_numpy(v) for k, v in seeded.items()}}, strict=True)
    model.eval()

    golden: dict[str, np.ndarray] = {}
    with torch.no_grad():
        for name, x in cs.signals().items():
            golden[f"audio_{name}"] = module.get_audio_embedding_from_data(x=x[None], use_tensor=False)[0]
        first = next(iter(cs.signals().values()))
        wave = torch.from_numpy(cs.quantised(first))[None]
        branch = model.audio_branch
        golden["logmel_knocks"] = branch.logmel_extractor(branch.spectrogram_extractor(wave))[0, 0].numpy()
        tokens = module.tokenizer(list(cs.PROMPTS))
        golden["text_ids"] = tokens["input_ids"].numpy()
        golden["text_mask"] = tokens["attention_mask"].numpy()
        golden["text"] = module.get_text_embedding(list(cs.PROMPTS), use_tensor=False)
    np.savez(out / "golden.npz", **{k: np.asarray(v) for k, v in golden.items()})
    import importlib.metadata as md

    meta = {"made_by": "bench/clap_reference.py", "seed": cs.SEED,
            "versions": {n: md.version(n) for n in ("laion-clap", "transformers", "torch", "numpy", "torchlibrosa")},
            "note": "keys of CLAP_Module.model.state_dict(); SyncFusion's checkpoint holds them as clap.model.<key>. "
                    "text_branch.embeddings.position_ids is saved by transformers < 4.31 only (LAION's own "
                    "checkpoint has it; load_state_dict drops it for newer transformers)."}
    (out / "keys.json").write_text(json.dumps({"meta": meta, "keys": spec}, indent=1) + "\n")
    learned = sum(v["kind"] == "learned" for v in spec.values())
    print(f"{len(spec)} keys ({learned} learned); golden embeddings of {len(cs.signals())} signals and "
          f"{len(cs.PROMPTS)} prompts in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
