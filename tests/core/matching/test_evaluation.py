from bot.core.matching.evaluation import Labelled, Prediction, choose_threshold, score, threshold_at_false_rejection


def predictions(in_scope: list[float], off_topic: list[float]) -> list[Prediction]:
    return [Prediction(Labelled(f"q{i}", "a"), "a", s) for i, s in enumerate(in_scope)] + [
        Prediction(Labelled(f"o{i}", None), "a", s) for i, s in enumerate(off_topic)
    ]


def test_the_threshold_leaves_at_most_the_budget_of_in_scope_questions_unanswered() -> None:
    in_scope = [round(0.3 + 0.01 * i, 3) for i in range(40)]  # 0.30 … 0.69
    preds = predictions(in_scope, [0.1, 0.35, 0.5])
    threshold = threshold_at_false_rejection(preds, budget=0.05)
    # 5 % of 40 is 2: the two lowest (0.30, 0.31) may go unanswered, the third may not.
    assert threshold == 0.32
    assert score(preds, threshold).false_rejection_rate == 0.05
    assert score(preds, threshold + 0.001).false_rejection_rate > 0.05


def test_a_zero_budget_answers_every_in_scope_question() -> None:
    preds = predictions([0.42, 0.8, 0.9], [0.5, 0.95])
    threshold = threshold_at_false_rejection(preds, budget=0.0)
    assert threshold == 0.42
    assert score(preds, threshold).false_rejection_rate == 0.0


def test_off_topic_questions_do_not_move_the_threshold() -> None:
    in_scope = [0.2, 0.4, 0.6, 0.8]
    assert threshold_at_false_rejection(predictions(in_scope, [0.1]), 0.25) == threshold_at_false_rejection(
        predictions(in_scope, [0.3, 0.5, 0.7, 0.9]), 0.25
    )


def test_without_in_scope_questions_the_threshold_is_the_middle() -> None:
    assert threshold_at_false_rejection(predictions([], [0.2, 0.9])) == 0.5


def test_the_balanced_rule_takes_the_lowest_threshold_of_an_off_topic_plateau() -> None:
    """Why the false-rejection rule exists: when no threshold between two values rejects one more
    of the few off-topic questions, the balanced objective keeps every in-scope answer it can."""
    in_scope = [round(0.3 + 0.01 * i, 3) for i in range(40)]
    preds = predictions(in_scope, [0.1, 0.2, 0.9])
    assert choose_threshold(preds) <= 0.3
    assert threshold_at_false_rejection(preds, budget=0.05) == 0.32
