"""Readers for the public benchmark data in ``../shared/data`` (see that folder's README.md).

The data root is ``$SEEDRAG_DATA_DIR`` when set, else ``<repo root>/../shared/data`` where the repo root is
the folder holding the ``eval`` package. Data is read in place, never copied. Missing files raise
``FileNotFoundError`` naming the path and ``SEEDRAG_DATA_DIR``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.errors import ConfigError

__all__ = [
    "DATA_ENV",
    "Paragraph",
    "QAItem",
    "ExpMRCItem",
    "data_dir",
    "load_squad",
    "squad_paragraphs",
    "squad_questions",
    "load_beir",
    "load_expmrc",
]

DATA_ENV = "SEEDRAG_DATA_DIR"

_SQUAD_FILES = {
    "v1.1": ("squad-v1.1-dev", "dev-v1.1.json"),
    "v1.1-every5th": ("squad-v1.1-dev", "dev-v1.1.every5th.json"),
    "v2.0": ("squad-v2.0-dev", "dev-v2.0.json"),
}
_BEIR_DIRS = {
    "scifact": ("scifact-beir",),
    "squad": ("squad-v1.1-dev", "beir"),
}
_EXPMRC_FILE = ("expmrc-squad-dev", "expmrc-squad-dev.json")


@dataclass(frozen=True)
class Paragraph:
    """One SQuAD paragraph. ``id`` is ``<raw title>_<paragraph index>`` (the BEIR corpus ``_id``);
    ``title`` is the article title with underscores shown as spaces (the BEIR corpus ``title``)."""

    id: str
    title: str
    text: str


@dataclass(frozen=True)
class QAItem:
    """One SQuAD question. ``answers`` keeps every gold text as published (duplicates included, as the
    official scripts score them); it is empty for unanswerable SQuAD 2.0 questions."""

    id: str
    question: str
    answers: tuple[str, ...]
    paragraph_id: str
    answerable: bool


@dataclass(frozen=True)
class ExpMRCItem:
    """One ExpMRC question: SQuAD v1.1 dev question id, gold answers, evidence sentences (as published,
    possibly repeated), and the paragraph it came from (``title`` with spaces for underscores, ``context``).
    Join on ``id`` with :func:`squad_questions` of SQuAD v1.1 for the BEIR paragraph id."""

    id: str
    question: str
    answers: tuple[str, ...]
    evidences: tuple[str, ...]
    title: str
    context: str


def data_dir() -> Path:
    """The data root: ``$SEEDRAG_DATA_DIR`` if set, else ``<repo root>/../shared/data`` (not checked)."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    repo_root = Path(__file__).resolve().parent.parent
    return repo_root.parent / "shared" / "data"


class DataMissingError(ConfigError, FileNotFoundError):
    """A benchmark file is not where the data root says (the command line prints the message, no traceback)."""


def _require(path: Path) -> Path:
    if not path.exists():
        raise DataMissingError(
            f"benchmark data not found: {path} (data root {data_dir()}; set {DATA_ENV} to the folder "
            f"holding squad-v1.1-dev/, squad-v2.0-dev/, scifact-beir/, expmrc-squad-dev/)"
        )
    return path


def _data_path(*parts: str) -> Path:
    return _require(data_dir().joinpath(*parts))


def _read_json(path: Path) -> Any:
    with _require(path).open(encoding="utf-8") as fh:
        return json.load(fh)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with _require(path).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_squad(path_or_name: str | os.PathLike[str] = "v1.1") -> dict[str, Any]:
    """The raw SQuAD JSON (``{"version", "data"}``) by name ``"v1.1"``, ``"v1.1-every5th"``, ``"v2.0"``
    (dev sets under the data root) or by file path."""
    if isinstance(path_or_name, str) and path_or_name in _SQUAD_FILES:
        path = _data_path(*_SQUAD_FILES[path_or_name])
    else:
        path = Path(path_or_name)
    data = _read_json(path)
    if not isinstance(data, dict) or "data" not in data:
        raise ValueError(f"{path} is not SQuAD JSON (no top-level 'data')")
    return data


def _paragraph_id(title: str, index: int) -> str:
    return f"{title}_{index}"


def squad_paragraphs(dataset: dict[str, Any]) -> list[Paragraph]:
    """All paragraphs in file order, with ids matching ``squad-v1.1-dev/beir/corpus.jsonl``."""
    return [
        Paragraph(id=_paragraph_id(article["title"], i), title=article["title"].replace("_", " "),
                  text=paragraph["context"])
        for article in dataset["data"]
        for i, paragraph in enumerate(article["paragraphs"])
    ]


def squad_questions(dataset: dict[str, Any]) -> list[QAItem]:
    """All questions in file order. ``answerable`` is ``not is_impossible`` (always True in v1.1)."""
    items = []
    for article in dataset["data"]:
        for i, paragraph in enumerate(article["paragraphs"]):
            pid = _paragraph_id(article["title"], i)
            for qa in paragraph["qas"]:
                items.append(QAItem(
                    id=qa["id"],
                    question=qa["question"],
                    answers=tuple(a["text"] for a in qa["answers"]),
                    paragraph_id=pid,
                    answerable=not qa.get("is_impossible", False),
                ))
    return items


def load_beir(
    name: str,
) -> tuple[dict[str, tuple[str, str]], dict[str, str], dict[str, dict[str, int]]]:
    """A BEIR-layout set, ``"scifact"`` or ``"squad"``: ``(corpus, queries, qrels)``.

    ``corpus`` maps doc id to ``(title, text)``; ``qrels`` is the test split (header row skipped), query id
    to ``{doc id: relevance}``; ``queries`` keeps only queries with test qrels, as BEIR's loader does.
    """
    if name not in _BEIR_DIRS:
        raise ValueError(f"unknown BEIR set {name!r}; expected one of {sorted(_BEIR_DIRS)}")
    root = _data_path(*_BEIR_DIRS[name])
    corpus = {d["_id"]: (d.get("title", ""), d["text"]) for d in _read_jsonl(root / "corpus.jsonl")}
    qrels: dict[str, dict[str, int]] = {}
    with _require(root / "qrels" / "test.tsv").open(encoding="utf-8") as fh:
        next(fh, None)  # header: query-id, corpus-id, score
        for line in fh:
            if line.strip():
                qid, doc_id, rel = line.rstrip("\r\n").split("\t")
                qrels.setdefault(qid, {})[doc_id] = int(rel)
    queries = {q["_id"]: q["text"] for q in _read_jsonl(root / "queries.jsonl") if q["_id"] in qrels}
    return corpus, queries, qrels


def load_expmrc() -> list[ExpMRCItem]:
    """The 501 ExpMRC SQuAD dev questions with their evidence sentences, in file order."""
    raw = _read_json(_data_path(*_EXPMRC_FILE))
    return [
        ExpMRCItem(
            id=qa["id"],
            question=qa["question"],
            answers=tuple(a["text"] for a in qa["answers"]),
            evidences=tuple(qa.get("evidences", ())),
            title=article["title"].replace("_", " "),
            context=paragraph["context"],
        )
        for article in raw["data"]
        for paragraph in article["paragraphs"]
        for qa in paragraph["qas"]
    ]
