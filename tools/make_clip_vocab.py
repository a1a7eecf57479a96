"""Build the CLIP BPE tokenizer files (vocab.json, merges.txt) shipped in resources/.

Source: ``open_clip/bpe_simple_vocab_16e6.txt.gz`` from the ``open-clip-torch`` wheel (MIT), the
same BPE that OpenAI CLIP and Stable Diffusion 2's tokenizer use (49,408 tokens). Run once:

    pip download --no-deps open-clip-torch -d /tmp/oc && unzip -o /tmp/oc/*.whl \
        'open_clip/bpe_simple_vocab_16e6.txt.gz' -d /tmp/oc
    python tools/make_clip_vocab.py /tmp/oc/open_clip/bpe_simple_vocab_16e6.txt.gz
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path


def bytes_to_unicode() -> dict[int, str]:
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(code) for code in codes), strict=True))


def main(bpe_path: str) -> None:
    with gzip.open(bpe_path) as handle:
        lines = handle.read().decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1 : 49152 - 256 - 2 + 1]]
    vocab = list(bytes_to_unicode().values())
    vocab += [token + "</w>" for token in vocab]
    vocab += ["".join(pair) for pair in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    out = Path(__file__).resolve().parent.parent / "resources" / "clip_tokenizer"
    out.mkdir(parents=True, exist_ok=True)
    (out / "vocab.json").write_text(
        json.dumps({token: index for index, token in enumerate(vocab)}, ensure_ascii=False),
        encoding="utf-8",
    )
    (out / "merges.txt").write_text(
        "#version: 0.2\n" + "\n".join(" ".join(pair) for pair in merges) + "\n", encoding="utf-8"
    )
    # tokenizer.json lets the GUI count tokens with the `tokenizers` library alone (no torch).
    from transformers import CLIPTokenizer

    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        source = Path(__file__).resolve().parent.parent / "resources/model_configs"
        (out / name).write_bytes((source / "stable-diffusion-2-1/tokenizer" / name).read_bytes())
    CLIPTokenizer.from_pretrained(str(out)).backend_tokenizer.save(str(out / "tokenizer.json"))
    print(f"wrote {len(vocab)} tokens and {len(merges)} merges to {out}")


if __name__ == "__main__":
    main(sys.argv[1])
