from rag.conversation import standalone


def test_a_follow_up_carries_the_entities_of_the_previous_question():
    q = standalone("and how far can it fly?", ["What is the ATACMS missile?"])
    assert "ATACMS" in q and q.startswith("and how far can it fly?")


def test_a_question_ending_on_a_bare_question_word_is_a_follow_up():
    q = standalone("Participation by whom?", ["How has President Putin described such strikes?"])
    assert "Putin" in q
    assert standalone("Which book is by whom the author named?", ["x"]) == "Which book is by whom the author named?"


def test_a_self_contained_question_is_left_alone():
    q = "What did Zelensky say about the rockets?"
    assert standalone(q, ["What is the ATACMS missile?"]) == q


def test_follow_up_finds_the_answer_end_to_end(seed_rag):
    answer = seed_rag.ask("and how far can it fly?", history=["What is the ATACMS missile system?"])
    assert answer.standalone_question and "ATACMS" in answer.standalone_question
    assert "190 miles" in answer.text


def test_a_follow_up_leans_on_the_previous_answer_phrase():
    from rag.conversation import Turn

    q = standalone("and what did he say?", [Turn("Who is the president of Ukraine?", "Volodymyr Zelensky")])
    assert "Zelensky" in q
    # a long phrase is a clause, not a name to carry: only the question's words are added
    long = Turn("What happened?", "the arrival of North Korean soldiers in Russia coupled with pressure on Ukraine")
    assert "coupled" not in standalone("and then?", [long])


def test_the_previous_answer_finds_the_follow_up_end_to_end(seed_rag):
    from rag.conversation import Turn

    question = "Who is the president of Ukraine?"
    follow = seed_rag.ask("and what did he say?", history=[Turn(question, "Volodymyr Zelensky")])
    assert "Zelensky" in follow.standalone_question
    assert not follow.refused and "Zelensky" in follow.text  # the answer is about him
    plain = seed_rag.ask("and what did he say?", history=[question])  # the question alone names no one
    assert "Zelensky" not in (plain.standalone_question or "")


def test_the_conversation_suite_scores_follow_ups(embedder):
    from eval.suites.conversation import run
    from rag.settings import Settings

    report = run(Settings(), quick=True, embedder=embedder)
    s = report.summary
    assert s["conversations"] == 6 and len(report.rows) == 6
    assert 0 <= s["follow_up_accuracy"] <= 1
    assert all(r["searched"] for r in report.rows)
    carried = [r for r in report.rows if r["phrase"]]
    assert carried and all(r["phrase"].split()[-1] in r["searched"] for r in carried)  # the answer is carried
