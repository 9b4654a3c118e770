"""The answer reader (the shipped int8 ONNX model) and the answer phrase it gives `Answer.highlight`."""

from __future__ import annotations

import hashlib
import shutil

import pytest

from index.errors import ConfigError
from rag.citations import marked
from rag.reader import Reader, model_path, record

RANGE = ("The authorization allows Ukraine to deploy Army Tactical Missile Systems (ATACMS), a precision-guided "
         "missile with a range of up to 190 miles (300 kilometers), on targets within Russia.")
NEAR = "Ukraine has asked its allies for more missiles for months, officials said on Tuesday."


@pytest.fixture(scope="module")
def reader() -> Reader:
    return Reader()


def phrase(reader: Reader, question: str, sentence: str) -> str:
    r = reader.read(question, [sentence])[0]
    return sentence[r.start:r.end]


def test_the_phrase_is_the_answer_not_the_sentence(reader):
    assert "190 miles" in phrase(reader, "How far can ATACMS strike?", RANGE)
    assert phrase(reader, "What does ATACMS stand for?", RANGE).startswith("Army Tactical Missile")
    hard_wrapped = "Ferries to Port Adle leave from\nits northern end twice a day,\nat 7:00 and at 16:30."
    assert phrase(reader, "What time do ferries to Port Adle depart?", hard_wrapped) == "7:00 and at 16:30"
    assert phrase(reader, "How often do the ferries leave?", hard_wrapped) == "twice a day"


def test_a_sentence_that_answers_scores_above_a_near_topic_one(reader):
    answering, near = reader.read("How far can ATACMS strike?", [RANGE, NEAR])
    assert answering.answer_logit > near.answer_logit + 2


def test_one_reading_per_sentence_in_order(reader):
    assert reader.read("Who?", []) == []
    readings = reader.read("What is the range?", [NEAR, RANGE, NEAR])
    assert len(readings) == 3 and readings[0] == readings[2]
    for r, s in zip(readings, [NEAR, RANGE, NEAR], strict=True):
        assert 0 <= r.start < r.end <= len(s)


def test_a_question_longer_than_the_pair_is_cut_not_an_error(reader, seed_rag):
    from rag.settings import MAX_QUESTION_CHARS

    long = ("How far can ATACMS strike, " + "and how far can the missile fly into Russia, " * 100)[:MAX_QUESTION_CHARS]
    (reading,) = reader.read(long, [RANGE])  # tokenizers raised "Sequence to truncate too short" here
    assert 0 <= reading.start < reading.end <= len(RANGE)
    answer = seed_rag.ask(long)  # and through the whole engine, as the chat asked it
    assert answer.refused or answer.citations


def test_the_shipped_file_is_the_recorded_one_and_small():
    data = model_path().read_bytes()
    assert hashlib.sha256(data).hexdigest() == record()["sha256"]
    assert len(data) <= 30 * 1024 * 1024
    assert record()["trained_on"]["squad_v2.0_dev_articles"] and record()["held_out"]["phrase_f1"] > 50


def test_a_model_file_with_another_hash_is_refused(tmp_path):
    tampered = tmp_path / "reader.onnx"
    shutil.copy(model_path(), tampered)
    with open(tampered, "r+b") as f:
        f.seek(2000)
        f.write(b"tampered")
    with pytest.raises(ConfigError, match="sha256.*refusing"):
        Reader(tampered).read("Who?", [NEAR])
    with pytest.raises(ConfigError, match="Cannot read the answer reader"):
        Reader(tmp_path / "missing.onnx").read("Who?", [NEAR])


def test_marked_collapses_wrapping_and_wraps_the_phrase():
    quote = "Ferries leave from\nits northern end twice a day,\nat 7:00 and at 16:30."
    start = quote.index("at 7:00")
    assert marked(quote, start, start + len("at 7:00 and at 16:30"), "**", "**") == (
        "Ferries leave from its northern end twice a day, **at 7:00 and at 16:30**.")
    assert marked("A b c.", 0, 1, "<", ">") == "<A> b c."


def test_the_answer_carries_a_verified_phrase(seed_rag):
    answer = seed_rag.ask("How far can ATACMS strike?")
    assert not answer.refused and answer.highlight is not None
    h, c = answer.highlight, answer.citations[0]
    document = seed_rag.document(h.source)
    assert document.text[h.start:h.end] == h.text and c.start <= h.start < h.end <= c.end
    assert "190 miles" in h.text and len(h.text) < len(c.quote) / 2
    assert answer.to_json()["highlight"] == {"source": h.source, "start": h.start, "end": h.end, "text": h.text}
    assert f"**{' '.join(h.text.split())}**" in answer.marked_text()
    assert answer.marked_text().endswith("[1]")


def test_a_refusal_has_no_phrase(seed_rag):
    answer = seed_rag.ask("What is the boiling point of tungsten?")
    assert answer.refused and answer.highlight is None and answer.to_json()["highlight"] is None
    assert answer.marked_text() == answer.text


def test_the_training_split_keeps_evaluation_articles_out():
    from eval.datasets import load_squad, squad_questions
    from eval.suites import calibrate, squad2
    from eval.train_reader import article_of, trained_on, v2_titles

    trained = trained_on()
    assert set(record()["trained_on"]["squad_v2.0_dev_articles"]) <= trained
    v2 = v2_titles()
    assert trained & set(v2) == {t for i, t in enumerate(v2) if i % 2 == 1}  # the odd half trains
    held = squad2.held_out(squad_questions(load_squad("v2.0")))
    calibration = calibrate.squad_v2_sample(calibrate.SAMPLE["default"])
    assert held and calibration
    assert not {article_of(q.paragraph_id) for q in held + calibration} & trained
