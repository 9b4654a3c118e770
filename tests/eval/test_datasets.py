"""Dataset readers: counts from ../shared/data/README.md, id alignment with BEIR, data-root resolution."""

from __future__ import annotations

from pathlib import Path

import pytest

import eval.datasets as ds
from eval.datasets import (
    DATA_ENV,
    data_dir,
    load_beir,
    load_expmrc,
    load_squad,
    squad_paragraphs,
    squad_questions,
)

needs_data = pytest.mark.skipif(not data_dir().exists(), reason=f"no benchmark data in {data_dir()}")


# ------------------------------------------------------------------------------------ data root / errors


def test_default_data_dir_is_shared_data_next_to_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATA_ENV, raising=False)
    repo_root = Path(ds.__file__).resolve().parent.parent
    assert data_dir() == repo_root.parent / "shared" / "data"


def test_env_var_overrides_and_missing_data_error_names_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    assert data_dir() == tmp_path
    for load in (lambda: load_squad("v1.1"), lambda: load_beir("scifact"), load_expmrc):
        with pytest.raises(FileNotFoundError) as err:
            load()
        assert str(tmp_path) in str(err.value) and DATA_ENV in str(err.value)
    with pytest.raises(FileNotFoundError, match="nope.json"):
        load_squad(tmp_path / "nope.json")
    with pytest.raises(ValueError, match="unknown BEIR set"):
        load_beir("msmarco")


def test_readers_on_a_tiny_fake_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    beir = tmp_path / "scifact-beir"
    (beir / "qrels").mkdir(parents=True)
    corpus_lines = ['{"_id": "d1", "title": "T", "text": "x"}', "", '{"_id": "d2", "text": ""}']
    (beir / "corpus.jsonl").write_text("\n".join(corpus_lines))
    (beir / "queries.jsonl").write_text('{"_id": "1", "text": "q one"}\n{"_id": "2", "text": "no qrels"}\n')
    (beir / "qrels" / "test.tsv").write_text('query-id\tcorpus-id\tscore\n1\td1\t1\n1\t"d2\t2\n')
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    corpus, queries, qrels = load_beir("scifact")
    assert corpus == {"d1": ("T", "x"), "d2": ("", "")}  # blank lines skipped, missing title -> ""
    assert queries == {"1": "q one"}  # only queries with test judgements, as BEIR does
    assert qrels == {"1": {"d1": 1, '"d2': 2}}  # header skipped; fields taken verbatim


def test_squad_structures_from_a_toy_dataset() -> None:
    toy = {"data": [{"title": "Big_Cat", "paragraphs": [
        {"context": "p0", "qas": []},
        {"context": "p1", "qas": [
            {"id": "a", "question": "Q?", "answers": [{"text": "x"}, {"text": "x"}]},
            {"id": "b", "question": "Q2?", "answers": [], "is_impossible": True},
        ]},
    ]}]}
    assert [(p.id, p.title, p.text) for p in squad_paragraphs(toy)] == [
        ("Big_Cat_0", "Big Cat", "p0"), ("Big_Cat_1", "Big Cat", "p1")]
    q = squad_questions(toy)
    assert (q[0].id, q[0].answers, q[0].paragraph_id, q[0].answerable) == ("a", ("x", "x"), "Big_Cat_1", True)
    assert (q[1].answers, q[1].answerable) == ((), False)


# ------------------------------------------------------------------------------------------ real data


@needs_data
def test_squad_v1_counts_and_ids_match_beir_corpus() -> None:
    dataset = load_squad("v1.1")
    paragraphs = squad_paragraphs(dataset)
    questions = squad_questions(dataset)
    assert (len(dataset["data"]), len(paragraphs), len(questions)) == (48, 2067, 10570)
    assert all(q.answerable and q.answers for q in questions)

    corpus, queries, qrels = load_beir("squad")
    assert [p.id for p in paragraphs] == list(corpus)  # same ids, same order
    assert all(corpus[p.id] == (p.title, p.text) for p in paragraphs)
    assert len(queries) == len(qrels) == 10570
    assert {q.id: {q.paragraph_id: 1} for q in questions} == qrels
    assert all(queries[q.id] == q.question for q in questions)


@needs_data
def test_squad_every5th_and_v2_counts() -> None:
    quick = load_squad("v1.1-every5th")
    assert len(squad_questions(quick)) == 2114
    assert [p.id for p in squad_paragraphs(quick)] == [p.id for p in squad_paragraphs(load_squad("v1.1"))]

    v2 = load_squad("v2.0")
    questions = squad_questions(v2)
    assert (len(v2["data"]), len(squad_paragraphs(v2)), len(questions)) == (35, 1204, 11873)
    unanswerable = [q for q in questions if not q.answerable]
    assert len(unanswerable) == 5945 and all(q.answers == () for q in unanswerable)


@needs_data
def test_scifact_counts() -> None:
    corpus, queries, qrels = load_beir("scifact")
    assert (len(corpus), len(queries), len(qrels)) == (5183, 300, 300)
    assert sum(len(v) for v in qrels.values()) == 339
    assert all(d in corpus for judged in qrels.values() for d in judged)
    assert all(isinstance(t, str) and text for t, text in corpus.values())


@needs_data
def test_expmrc_items() -> None:
    items = load_expmrc()
    assert len(items) == 501 and len({i.id for i in items}) == 501
    assert all(i.answers and i.evidences and i.question and i.context for i in items)
    assert all(all(e.strip() for e in i.evidences) for i in items)
    assert all(e in i.context for i in items for e in i.evidences)  # evidences are context sentences
    squad = load_squad("v1.1")
    v1 = {q.id: q for q in squad_questions(squad)}
    paragraphs = {p.id: p for p in squad_paragraphs(squad)}
    for i in items:  # ExpMRC questions are SQuAD v1.1 dev questions: join on id for the paragraph id
        q = v1[i.id]
        assert (q.question, q.answers) == (i.question, i.answers)
        assert paragraphs[q.paragraph_id].text == i.context
        assert paragraphs[q.paragraph_id].title == i.title
