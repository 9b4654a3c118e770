from rag.conversation import standalone


def test_a_follow_up_carries_the_entities_of_the_previous_question():
    q = standalone("and how far can it fly?", ["What is the ATACMS missile?"])
    assert "ATACMS" in q and q.startswith("and how far can it fly?")


def test_a_self_contained_question_is_left_alone():
    q = "What did Zelensky say about the rockets?"
    assert standalone(q, ["What is the ATACMS missile?"]) == q


def test_follow_up_finds_the_answer_end_to_end(seed_rag):
    answer = seed_rag.ask("and how far can it fly?", history=["What is the ATACMS missile system?"])
    assert answer.standalone_question and "ATACMS" in answer.standalone_question
    assert "190 miles" in answer.text
