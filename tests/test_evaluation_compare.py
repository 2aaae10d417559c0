"""`snekner compare` with paired bootstrap intervals and --plot, on fake runs written directly (no model)."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import invoke, ok, one_line_error

from fakes import write_evaluation, write_run

from snekner.evaluation import bootstrap
from snekner.ner.metrics import metric_values
from snekner.ner.scoring import prf, score, sentence_counts
from snekner.store.evaluations import read_evaluation_file

TYPES = ["PER", "LOC", "ORG", "FOOD"]


def make_run(runs: Path, name: str, tokens, gold, pred, types, mode: str = "conlleval", split: str = "test") -> Path:
    """A finished run as `snekner train` + `snekner eval` leave it, minus the model."""
    path = write_run(runs / name, name, ["O"] + [f"{p}-{t}" for t in types for p in "BI"])
    write_evaluation(path, {"n_sentences": len(gold), **score(gold, pred, mode, types)}, split, mode)
    lines = [json.dumps({"id": i, "tokens": t, "gold": g, "pred": p}) for i, (t, g, p) in enumerate(zip(tokens, gold, pred))]
    (path / "eval" / f"{split}.predictions.jsonl").write_text("\n".join(lines) + "\n")
    return path


def corpus(n: int = 80, seed: int = 7):
    """Sentences of 6 words with one or two entities each, of all four types."""
    rng = np.random.default_rng(seed)
    tokens, gold = [], []
    for s in range(n):
        tags = ["O"] * 6
        typ = TYPES[s % 4]
        tags[0], tags[1] = f"B-{typ}", f"I-{typ}"
        if rng.random() < 0.5:
            tags[4] = f"B-{TYPES[int(rng.integers(0, 4))]}"
        tokens.append([f"w{s}_{j}" for j in range(6)])
        gold.append(tags)
    return tokens, gold


def noisy(gold, p: float, seed: int, types=TYPES):
    """Each entity of the gold kept with probability 1-p, else dropped or given another type."""
    rng = np.random.default_rng(seed)
    out = []
    for tags in gold:
        tags = list(tags)
        for i, tag in enumerate(tags):
            if tag.startswith("B-") and rng.random() < p:
                new = "O" if rng.random() < 0.5 else str(rng.choice([t for t in types if t != tag[2:]]))
                j = i
                while j < len(tags) and (j == i or tags[j].startswith("I-")):
                    tags[j] = "O" if new == "O" else ("B-" if j == i else "I-") + new
                    j += 1
        out.append(tags)
    return out


def without(tags_list, typ):
    return [[("O" if t != "O" and t[2:] == typ else t) for t in tags] for tags in tags_list]


@pytest.fixture
def runs(tmp_path):
    """A (four types, FOOD included) and B (a tagset without FOOD), on the same sentences."""
    tokens, gold = corpus()
    make_run(tmp_path, "A", tokens, gold, noisy(gold, 0.4, seed=1), TYPES)
    gold_b = without(gold, "FOOD")
    make_run(tmp_path, "B", tokens, gold_b, without(noisy(gold, 0.2, seed=2), "FOOD"), TYPES[:3])
    return tmp_path


def compare_json(runs_dir, *args):
    return json.loads(ok("compare", *args, "--runs-dir", runs_dir, "--format", "json").output)


# ---- output formats ---------------------------------------------------------------------------


def test_json_has_intervals_per_type_and_overall_and_none_for_an_absent_type(runs):
    data = compare_json(runs, "A", "B")
    assert data["bootstrap"] == {"resamples": 1000, "seed": 0, "confidence": 0.95}
    assert data["per_type"]["FOOD"]["B"] is None and data["per_type"]["FOOD"]["interval"] is None
    for typ in ("PER", "LOC", "ORG"):
        found = data["per_type"][typ]["interval"]
        assert set(found) == {"low", "high", "significant"}
        assert found["low"] <= found["high"]
        assert found["significant"] == (found["low"] > 0 or found["high"] < 0)
        # the point difference lies within its interval here (80 sentences, a clear but noisy gap)
        assert found["low"] - 1e-9 <= data["per_type"][typ]["delta"] <= found["high"] + 1e-9
    overall = data["overall"]["interval"]
    assert overall["low"] <= data["overall"]["delta"] <= overall["high"]
    a = read_evaluation_file(runs / "A" / "eval" / "test.json")
    assert data["per_type"]["PER"]["A"] == a.per_type["PER"].f1


def test_table_markdown_and_csv_show_the_interval_column_and_the_mark(runs):
    data = compare_json(runs, "A", "B")
    table = ok("compare", "A", "B", "--runs-dir", runs).output.splitlines()
    assert table[0] == "f1 on test (conlleval)"
    assert "B-A 95% CI" in table[1] and "support" in table[1]
    food = next(line for line in table if line.startswith("FOOD"))
    assert food.split()[2] == "absent" and food.rstrip().endswith("absent")
    per = next(line for line in table if line.startswith("PER "))
    interval = data["per_type"]["PER"]["interval"]
    expected = f"[{interval['low']:+.4f}, {interval['high']:+.4f}]"
    assert expected in per and per.rstrip().endswith("*") == interval["significant"]
    assert table[-1].startswith("* marks a difference whose 95% bootstrap interval excludes 0") and "1000 resamples, seed 0" in table[-1]

    markdown = ok("compare", "A", "B", "--runs-dir", runs, "--format", "markdown").output
    assert markdown.startswith("| type") and "B-A 95% CI" in markdown.splitlines()[0]
    assert expected in markdown and markdown.rstrip().splitlines()[-1].startswith("* marks a difference")

    text = ok("compare", "A", "B", "--runs-dir", runs, "--format", "csv").output
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["type", "A", "B", "B-A", "support", "B-A 95% CI"]
    by_type = {r[0]: r for r in rows[1:]}
    assert set(by_type) == {"PER", "LOC", "ORG", "FOOD", "overall (PER LOC ORG)"}
    assert by_type["FOOD"][2:4] == ["absent", "absent"] and by_type["FOOD"][5] == "absent"
    assert by_type["PER"][5] == expected + (" *" if interval["significant"] else "")
    overall = data["overall"]["interval"]
    assert by_type["overall (PER LOC ORG)"][5].startswith(f"[{overall['low']:+.4f}, {overall['high']:+.4f}]")


def test_bootstrap_zero_leaves_the_intervals_out(runs):
    data = compare_json(runs, "A", "B", "--bootstrap", 0)
    assert data["bootstrap"] is None
    assert "interval" not in data["overall"] and all("interval" not in row for row in data["per_type"].values())
    text = ok("compare", "A", "B", "--runs-dir", runs, "--format", "csv", "--bootstrap", 0).output
    assert text.splitlines()[0] == "type,A,B,B-A,support"
    table = ok("compare", "A", "B", "--runs-dir", runs, "--bootstrap", 0).output
    assert "CI" not in table and "bootstrap" not in table
    # runs with different types need their predictions for the common-ground overall, bootstrap or not
    (runs / "B" / "eval" / "test.predictions.jsonl").unlink()
    error = one_line_error(invoke("compare", "A", "B", "--runs-dir", runs, "--bootstrap", 0), "run B has no test predictions",
                           "snekner eval B --split test")
    assert "--bootstrap 0" not in error


def test_runs_with_the_same_types_need_no_predictions_without_the_bootstrap(tmp_path):
    tokens, gold = corpus()
    make_run(tmp_path, "A", tokens, gold, noisy(gold, 0.4, seed=1), TYPES)
    make_run(tmp_path, "B", tokens, gold, noisy(gold, 0.2, seed=2), TYPES)
    for name in "AB":
        (tmp_path / name / "eval" / "test.predictions.jsonl").unlink()
    data = compare_json(tmp_path, "A", "B", "--bootstrap", 0)
    a = read_evaluation_file(tmp_path / "A" / "eval" / "test.json")
    assert data["overall"]["A"] == a.overall.f1 and data["overall_types"] == TYPES
    table = ok("compare", "A", "B", "--runs-dir", tmp_path, "--bootstrap", 0).output
    assert any(line.startswith("overall ") for line in table.splitlines()) and "own types" not in table
    one_line_error(invoke("compare", "A", "B", "--runs-dir", tmp_path), "run A has no test predictions", "or pass --bootstrap 0")


# ---- common ground ----------------------------------------------------------------------------


def hand_worked_runs(tmp_path):
    """A scores PER LOC ORG FOOD, B the same sentences without FOOD (worked out in the test below)."""
    tokens = [["John", "ate", "pizza", "in", "Rome"], ["Acme", "sold", "bread"], ["Mary", "met", "Bob"]]
    gold_a = [["B-PER", "O", "B-FOOD", "O", "B-LOC"], ["B-ORG", "O", "B-FOOD"], ["B-PER", "O", "B-PER"]]
    pred_a = [["B-PER", "O", "O", "O", "B-LOC"], ["B-ORG", "O", "B-FOOD"], ["B-PER", "O", "O"]]
    gold_b = [["B-PER", "O", "O", "O", "B-LOC"], ["B-ORG", "O", "O"], ["B-PER", "O", "B-PER"]]
    pred_b = [["B-PER", "O", "O", "O", "O"], ["B-ORG", "O", "O"], ["B-PER", "O", "B-PER"]]
    make_run(tmp_path, "A", tokens, gold_a, pred_a, TYPES)
    make_run(tmp_path, "B", tokens, gold_b, pred_b, TYPES[:3])


def test_overall_is_scored_on_the_types_both_runs_have(tmp_path):
    """A: PER tp 2 fn 1, LOC tp 1, ORG tp 1, FOOD tp 1 fn 1 -> its own overall F1 is 2*5/(2*5+2) = 0.8333.
    B: PER tp 3, LOC fn 1, ORG tp 1 -> 2*4/(2*4+1) = 0.8889. The old row set these side by side (+0.0556, support 7:
    A's). On common ground (FOOD mapped to O) A is tp 4 fn 1 as well: 0.8889 each, difference 0, support 5."""
    hand_worked_runs(tmp_path)
    data = compare_json(tmp_path, "A", "B", "--bootstrap", 0)
    assert data["overall_types"] == ["PER", "LOC", "ORG"]
    overall = data["overall"]
    assert overall["A"] == pytest.approx(8 / 9) and overall["B"] == pytest.approx(8 / 9)
    assert overall["delta"] == pytest.approx(0) and overall["support"] == 5
    assert data["own_overall"]["A"] == {"types": TYPES, "f1": pytest.approx(10 / 12), "support": 7}
    assert data["own_overall"]["B"] == {"types": TYPES[:3], "f1": pytest.approx(8 / 9), "support": 5}
    assert data["per_type"]["PER"]["A"] == pytest.approx(0.8) and data["per_type"]["PER"]["B"] == 1.0
    recall = compare_json(tmp_path, "A", "B", "--bootstrap", 0, "--metric", "recall")["overall"]
    assert recall["A"] == recall["B"] == pytest.approx(4 / 5)

    table = ok("compare", "A", "B", "--runs-dir", tmp_path, "--bootstrap", 0).output.splitlines()
    row = next(line for line in table if line.startswith("overall"))
    assert row.split()[:8] == ["overall", "(PER", "LOC", "ORG)", "0.8889", "0.8889", "+0.0000", "5"]
    assert table[-1] == ("each run over its own types (different gold, not compared): A 0.8333 over its 4 types, "
                         "B 0.8889 over its 3 types")
    text = ok("compare", "A", "B", "--runs-dir", tmp_path, "--format", "csv", "--bootstrap", 0).output
    assert "overall (PER LOC ORG),0.8889,0.8889,+0.0000,5" in text.splitlines()


def test_the_common_ground_interval_pairs_identical_gold(tmp_path):
    """With the bootstrap on, the overall interval is of the common-ground difference, resampled by hand here:
    per sentence (tp, fp, fn) on PER LOC ORG, A: (2,0,0) (1,0,0) (1,0,1); B: (1,0,1) (1,0,0) (2,0,0)."""
    hand_worked_runs(tmp_path)
    data = compare_json(tmp_path, "A", "B")
    a = np.array([[[2, 0, 0]], [[1, 0, 0]], [[1, 0, 1]]])
    b = np.array([[[1, 0, 1]], [[1, 0, 0]], [[2, 0, 0]]])
    indices = np.concatenate(list(bootstrap.resample_indices(3, 1000, 0)))
    diffs = slow_scores(b, indices, "f1")[:, -1] - slow_scores(a, indices, "f1")[:, -1]
    found = data["overall"]["interval"]
    assert found["low"] == pytest.approx(np.percentile(diffs, 2.5)) and found["high"] == pytest.approx(np.percentile(diffs, 97.5))
    assert found["low"] < 0 < found["high"] and not found["significant"]
    markdown = ok("compare", "A", "B", "--runs-dir", tmp_path, "--format", "markdown").output
    assert "| overall (PER LOC ORG) |" in markdown and "over its 4 types" in markdown


def test_mapping_other_types_to_o_equals_summing_the_shared_types(runs):
    """The common ground from predictions with other types mapped to O gives each shared type the counts it had."""
    from snekner.evaluation.bootstrap import common_ground_counts, load_predictions
    from snekner.store.runs import open_run

    run = open_run("A", runs)
    sentences = load_predictions(run, "test")
    for mode in ("conlleval", "strict"):
        full = sentence_counts([s["gold"] for s in sentences], [s["pred"] for s in sentences], mode, types=TYPES)
        common = common_ground_counts(sentences, ["PER", "LOC", "ORG"], mode)
        np.testing.assert_array_equal(common.counts, full.counts[:, :3])


def test_runs_on_different_test_sets_are_refused_without_the_bootstrap_too(tmp_path):
    tokens, gold = corpus()
    make_run(tmp_path, "A", tokens, gold, gold, TYPES)
    make_run(tmp_path, "B", tokens[:-1], gold[:-1], gold[:-1], TYPES)
    error = one_line_error(invoke("compare", "A", "B", "--runs-dir", tmp_path, "--bootstrap", 0), "different sentences", "80 vs 79")
    assert "--bootstrap 0" not in error


def test_three_runs_compare_each_later_run_with_the_first(runs):
    tokens, gold = corpus()
    make_run(runs, "C", tokens, gold, gold, TYPES)  # perfect
    data = compare_json(runs, "A", "B", "C")
    assert data["runs"] == ["A", "B", "C"]
    per = data["per_type"]["PER"]
    assert set(per["interval"]) == {"B", "C"}
    assert per["C-A"] == pytest.approx(1 - per["A"])
    assert data["per_type"]["FOOD"]["interval"] == {"B": None, "C": data["per_type"]["FOOD"]["interval"]["C"]}
    assert data["per_type"]["FOOD"]["interval"]["C"]["significant"]  # A misses 40% of its entities, C none
    assert data["overall"]["interval"]["C"]["low"] > 0
    # the A-B intervals do not depend on C being compared too (same seed, same resamples)
    assert data["per_type"]["PER"]["interval"]["B"] == compare_json(runs, "A", "B")["per_type"]["PER"]["interval"]
    header = next(csv.reader(io.StringIO(ok("compare", "A", "B", "C", "--runs-dir", runs, "--format", "csv").output)))
    assert header == ["type", "A", "B", "C", "B-A", "C-A", "support", "B-A 95% CI", "C-A 95% CI"]
    table = ok("compare", "A", "B", "C", "--runs-dir", runs).output
    assert table.splitlines()[-1].startswith("* marks a difference whose 95% bootstrap interval excludes 0")
    assert "C-A 95% CI" in table.splitlines()[1]


# ---- the bootstrap is right -------------------------------------------------------------------


def test_identical_runs_give_a_zero_interval_that_is_not_significant(tmp_path):
    tokens, gold = corpus()
    pred = noisy(gold, 0.3, seed=3)
    make_run(tmp_path, "A", tokens, gold, pred, TYPES)
    make_run(tmp_path, "B", tokens, gold, pred, TYPES)
    data = compare_json(tmp_path, "A", "B")
    for found in [row["interval"] for row in data["per_type"].values()] + [data["overall"]["interval"]]:
        assert found == {"low": 0.0, "high": 0.0, "significant": False}
    table = ok("compare", "A", "B", "--runs-dir", tmp_path).output
    assert not any(line.rstrip().endswith("*") for line in table.splitlines()[:-1])


def test_b_better_on_every_sentence_of_a_type_is_significant(tmp_path):
    tokens, gold = corpus()
    # A misses every PER entity; B finds all of them; both identical elsewhere
    pred_b = noisy(gold, 0.3, seed=4)
    pred_b = [[g if g.endswith("PER") else ("O" if p.endswith("PER") else p) for g, p in zip(gt, pt)] for gt, pt in zip(gold, pred_b)]
    pred_a = [[("O" if g.endswith("PER") else p) for g, p in zip(gt, pt)] for gt, pt in zip(gold, pred_b)]
    make_run(tmp_path, "A", tokens, gold, pred_a, TYPES)
    make_run(tmp_path, "B", tokens, gold, pred_b, TYPES)
    data = compare_json(tmp_path, "A", "B")
    per = data["per_type"]["PER"]["interval"]
    assert per["significant"] and 0 < per["low"] <= per["high"] <= 1
    assert per["low"] == per["high"] == 1.0  # A scores 0 and B 1 on every resample
    assert data["overall"]["interval"]["significant"] and data["overall"]["interval"]["low"] > 0
    for typ in ("LOC", "ORG", "FOOD"):
        assert data["per_type"][typ]["interval"] == {"low": 0.0, "high": 0.0, "significant": False}
    # recall too, and B worse than A is a negative significant interval
    swapped = compare_json(tmp_path, "B", "A", "--metric", "recall")
    assert swapped["per_type"]["PER"]["interval"]["high"] < 0 and swapped["per_type"]["PER"]["interval"]["significant"]


def test_same_seed_reproduces_and_another_seed_changes_the_intervals(runs):
    first = compare_json(runs, "A", "B", "--seed", 5)
    assert compare_json(runs, "A", "B", "--seed", 5) == first
    other = compare_json(runs, "A", "B", "--seed", 6)
    assert other["bootstrap"]["seed"] == 6
    intervals = lambda d: [d["overall"]["interval"]] + [row["interval"] for row in d["per_type"].values()]  # noqa: E731
    assert intervals(other) != intervals(first)
    # the point scores do not depend on the seed
    assert {k: v for k, v in other["overall"].items() if k != "interval"} == {k: v for k, v in first["overall"].items() if k != "interval"}


def slow_scores(counts: np.ndarray, indices: np.ndarray, metric: str) -> np.ndarray:
    """The straightforward bootstrap: one resample at a time, summed sentence by sentence, scored with scoring.prf."""
    pick = {"precision": 0, "recall": 1, "f1": 2}[metric]
    out = []
    for draw in indices:
        totals = np.zeros(counts.shape[1:], dtype=np.int64)
        for s in draw:
            totals += counts[s]
        per_type = [prf(*totals[t])[pick] for t in range(counts.shape[1])]
        out.append(per_type + [prf(*totals.sum(axis=0))[pick]])
    return np.array(out)


@pytest.mark.parametrize("metric", ["f1", "precision", "recall"])
def test_vectorised_bootstrap_matches_a_slow_loop_with_the_same_indices(metric, monkeypatch):
    tokens, gold = corpus(60)
    a = sentence_counts(gold, noisy(gold, 0.4, seed=1), types=TYPES).counts
    b = sentence_counts(gold, noisy(gold, 0.2, seed=2), types=TYPES).counts
    monkeypatch.setattr(bootstrap, "CHUNK_ELEMENTS", 60 * 3)  # chunks of 3 resamples: the chunking is exercised
    resamples, seed = 8, 11
    indices = np.concatenate(list(bootstrap.resample_indices(60, resamples, seed)))
    assert indices.shape == (resamples, 60)
    fast_a, fast_b = bootstrap.resample_scores([a, b], metric, resamples, seed)
    np.testing.assert_allclose(fast_a, slow_scores(a, indices, metric), rtol=0, atol=1e-12)
    np.testing.assert_allclose(fast_b, slow_scores(b, indices, metric), rtol=0, atol=1e-12)
    w = bootstrap.weights(indices, 60)
    assert (w == np.array([np.bincount(row, minlength=60) for row in indices])).all() and (w.sum(axis=1) == 60).all()
    found = bootstrap.interval(fast_b[:, 0] - fast_a[:, 0])
    diffs = slow_scores(b, indices, metric)[:, 0] - slow_scores(a, indices, metric)[:, 0]
    assert found["low"] == pytest.approx(np.percentile(diffs, 2.5)) and found["high"] == pytest.approx(np.percentile(diffs, 97.5))


def test_metric_values_follow_prf_when_undefined():
    totals = np.array([[0, 0, 0], [0, 3, 0], [0, 0, 2], [2, 1, 1], [5, 0, 0]])
    for k, metric in enumerate(["precision", "recall", "f1"]):
        assert metric_values(totals, metric).tolist() == pytest.approx([prf(*row)[k] for row in totals])


def test_bootstrap_is_fast_on_10k_sentences_and_15_types():
    import time

    rng = np.random.default_rng(0)
    a, b = (rng.integers(0, 3, size=(10_000, 15, 3)) for _ in range(2))
    started = time.perf_counter()
    sa, sb = bootstrap.resample_scores([a, b], "f1", 1000, 0)
    assert time.perf_counter() - started < 5
    assert sa.shape == sb.shape == (1000, 16)


# ---- bad input --------------------------------------------------------------------------------


def test_runs_on_different_sentences_are_a_one_line_error(tmp_path):
    tokens, gold = corpus()
    make_run(tmp_path, "A", tokens, gold, gold, TYPES)
    make_run(tmp_path, "B", tokens[:-1], gold[:-1], gold[:-1], TYPES)
    one_line_error(invoke("compare", "A", "B", "--runs-dir", tmp_path),
                   "runs A and B were evaluated on different sentences", "80 vs 79", "evaluate both on the same data and split")
    changed = [list(t) for t in tokens]
    changed[10][2] = "other"
    make_run(tmp_path, "C", changed, gold, gold, TYPES)
    one_line_error(invoke("compare", "A", "B", "C", "--runs-dir", tmp_path), "different sentences")
    one_line_error(invoke("compare", "A", "C", "--runs-dir", tmp_path), "sentence 11 of test differs")


def test_a_run_without_eval_results_names_the_eval_command(runs):
    one_line_error(invoke("compare", "A", "B", "--runs-dir", runs, "--split", "validation"),
                   "run A has no validation evaluation", f"snekner eval A --split validation --runs-dir {runs}")


def test_missing_or_stale_predictions_name_the_eval_command(runs):
    path = runs / "B" / "eval" / "test.predictions.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n")
    one_line_error(invoke("compare", "A", "B", "--runs-dir", runs), "do not match", "snekner eval B --split test")
    path.write_text("\n".join(lines[:3]) + "\n{not json\n")
    one_line_error(invoke("compare", "A", "B", "--runs-dir", runs), "line 4 is not valid JSON", "snekner eval B")
    path.unlink()
    # A and B differ in types: the overall needs the predictions whether or not the bootstrap runs
    error = one_line_error(invoke("compare", "A", "B", "--runs-dir", runs), "run B has no test predictions", "snekner eval B --split test")
    assert "--bootstrap 0" not in error


@pytest.mark.parametrize("args, fragments", [
    (["--bootstrap", "-5"], ["--bootstrap must be 0 (off)", "not -5"]),
    (["--metric", "accuracy"], ["--metric", "'accuracy' is not one of 'f1', 'precision', 'recall'"]),
    (["--format", "xml"], ["--format", "'xml' is not one of"]),
    (["--plot", "{tmp}/plot.bmpx"], ["--plot", ".png"]),
])
def test_bad_options_are_one_line(runs, args, fragments):
    one_line_error(invoke("compare", "A", "B", "--runs-dir", runs, *[a.format(tmp=runs) for a in args]), *fragments)


def test_different_modes_are_refused(tmp_path):
    tokens, gold = corpus()
    make_run(tmp_path, "A", tokens, gold, gold, TYPES)
    make_run(tmp_path, "B", tokens, gold, gold, TYPES, mode="strict")
    one_line_error(invoke("compare", "A", "B", "--runs-dir", tmp_path), "different modes", "--strict")


# ---- plot -------------------------------------------------------------------------------------


def test_plot_writes_a_png(runs):
    pytest.importorskip("matplotlib")
    out = runs / "plots" / "compare.png"
    result = ok("compare", "A", "B", "--runs-dir", runs, "--plot", out)
    assert "overall" in result.output
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    assert [p.name for p in out.parent.iterdir()] == ["compare.png"]  # no temporary file left
    tokens, gold = corpus()
    make_run(runs, "C", tokens, gold, gold, TYPES)
    svg = runs / "three.svg"
    ok("compare", "A", "B", "C", "--runs-dir", runs, "--plot", svg, "--bootstrap", 0)
    assert svg.read_text().lstrip().startswith("<?xml") and "<svg" in svg.read_text()


def test_plot_without_matplotlib_is_a_one_line_error(runs, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    out = runs / "compare.png"
    one_line_error(invoke("compare", "A", "B", "--runs-dir", runs, "--plot", out),
                   "matplotlib is not installed; install it with pip install 'snekner[plot]' to use --plot")
    assert not out.exists()


def test_help_does_not_import_matplotlib_or_the_ml_libraries():
    code = ("import sys, runpy; sys.argv=['snekner','compare','--help'];\n"
            "try:\n    runpy.run_module('snekner', run_name='__main__')\nexcept SystemExit: pass\n"
            "heavy = [m for m in ('matplotlib', 'tensorflow', 'transformers', 'datasets') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "--bootstrap" in out.stdout and "--plot" in out.stdout


FORMULA_TYPE = "=cmd|' /C calc'!A0"
HTML_TYPE = "<img src=x onerror=alert(1)>"


def test_csv_cells_never_start_a_formula_and_markdown_never_holds_html(tmp_path):
    """Issue 26 (OWASP's CSV-injection rule): a run or type name starting with = + - @ went into the CSV as it was, and a
    spreadsheet ran it as a formula; in markdown a type name was HTML. Numbers (-0.0123) stay numbers."""
    tokens, gold = corpus()
    rename = {"FOOD": FORMULA_TYPE, "ORG": HTML_TYPE}
    gold = [[t if t == "O" else f"{t[:2]}{rename.get(t[2:], t[2:])}" for t in tags] for tags in gold]
    types = [rename.get(t, t) for t in TYPES]
    a, b = '=HYPERLINK("evil.example","x")', "@B"
    make_run(tmp_path, a, tokens, gold, noisy(gold, 0.4, seed=1, types=types), types)
    make_run(tmp_path, b, tokens, gold, noisy(gold, 0.1, seed=2, types=types), types)
    rows = list(csv.reader(io.StringIO(ok("compare", a, b, "--runs-dir", tmp_path, "--format", "csv").output)))
    for cell in (c for row in rows for c in row):
        if cell.startswith(("=", "+", "-", "@", "\t", "\r")):
            float(cell)  # only a number may start so
    assert rows[0][1:3] == ["'" + a, "'" + b] and ["'" + FORMULA_TYPE] == [r[0] for r in rows if FORMULA_TYPE in r[0]]
    assert any(c.startswith("-0.") or c.startswith("+0.") for row in rows[1:] for c in row)  # deltas are left as numbers
    markdown = ok("compare", a, b, "--runs-dir", tmp_path, "--format", "markdown").output
    assert "<img" not in markdown and "&lt;img src=x onerror=alert(1)&gt;" in markdown
    assert "\\|' /C calc'" in markdown  # a | in a type name splits no cell
