"""`snekner compare` of groups of seeds (train --seeds): mean, sd, per-seed values, two-level bootstrap; on fake runs."""
from __future__ import annotations

import csv
import io
import json
import statistics

import numpy as np
import pytest
from cli_helpers import invoke, ok, one_line_error
from test_evaluation_compare import TYPES, compare_json, corpus, make_run, noisy, without

from snekner.evaluation import bootstrap
from snekner.store.evaluations import read_evaluation_file
from snekner.store.manifests import GroupManifest, write_group_manifest


def make_group(runs, name: str, seeds: list[int], tokens, gold, preds, types):
    """A finished group as `train --seeds` + `eval` leave it, minus the models: GROUP/seed-N runs named GROUP/seed-N."""
    group = runs / name
    group.mkdir(parents=True, exist_ok=True)
    for seed, pred in zip(seeds, preds):
        path = make_run(group, f"seed-{seed}", tokens, gold, pred, types)
        manifest = json.loads((path / "snekner-run.json").read_text())
        manifest["name"], manifest["options"] = f"{name}/seed-{seed}", {"seed": seed}
        (path / "snekner-run.json").write_text(json.dumps(manifest))
    write_group_manifest(group, GroupManifest(name=name, data="nowhere", seeds=seeds, members=[f"seed-{s}" for s in seeds], options={}))
    return group


@pytest.fixture
def groups(tmp_path):
    """A: three seeds on all four types; B: three seeds without FOOD, better; C: one run of A's recipe (seed 1's predictions)."""
    tokens, gold = corpus(120)
    preds_a = [noisy(gold, 0.4, seed=s) for s in (1, 2, 3)]
    make_group(tmp_path, "A", [1, 2, 3], tokens, gold, preds_a, TYPES)
    make_group(tmp_path, "B", [1, 2, 3], tokens, without(gold, "FOOD"), [without(noisy(gold, 0.15, seed=s), "FOOD") for s in (4, 5, 6)],
               TYPES[:3])
    make_run(tmp_path, "C", tokens, gold, preds_a[0], TYPES)
    return tmp_path


def member_eval(runs, group, seed):
    return read_evaluation_file(runs / group / f"seed-{seed}" / "eval" / "test.json")


def test_groups_show_mean_sd_and_every_seed(groups):
    data = compare_json(groups, "A", "B")
    assert data["runs"] == ["A", "B"] and data["seeds"] == {"A": [1, 2, 3], "B": [1, 2, 3]}
    per = data["per_type"]["PER"]
    values = [member_eval(groups, "A", s).per_type["PER"].f1 for s in (1, 2, 3)]
    assert per["A"]["per_seed"] == {"1": values[0], "2": values[1], "3": values[2]}
    assert per["A"]["mean"] == pytest.approx(statistics.fmean(values)) and per["A"]["sd"] == pytest.approx(statistics.stdev(values))
    assert per["delta"] == pytest.approx(per["B"]["mean"] - per["A"]["mean"])
    assert set(per["interval"]) == {"low", "high", "significant"} and per["interval"]["significant"]
    assert data["per_type"]["FOOD"]["B"] is None and data["per_type"]["FOOD"]["interval"] is None
    # overall on common ground, per seed: A's own overall includes FOOD, its common-ground one does not
    assert data["overall_types"] == ["PER", "LOC", "ORG"]
    own = [member_eval(groups, "A", s).overall.f1 for s in (1, 2, 3)]
    assert data["own_overall"]["A"]["f1"] == pytest.approx(statistics.fmean(own))
    assert data["overall"]["A"]["per_seed"]["1"] != pytest.approx(own[0])
    assert data["bootstrap"]["levels"] == "seeds and sentences"


def test_group_table_and_csv(groups):
    table = ok("compare", "A", "B", "--runs-dir", groups).output.splitlines()
    assert "A (3 seeds) mean ± sd" in table[1] and "B-A (means)" in table[1]
    per = next(line for line in table if line.startswith("PER "))
    assert " ± " in per
    assert table[-1].startswith("* marks a difference of means") and "each group's seeds, then the test sentences" in table[-1]
    rows = list(csv.reader(io.StringIO(ok("compare", "A", "B", "--runs-dir", groups, "--format", "csv").output)))
    assert rows[0] == ["type", "A mean", "A sd", "B mean", "B sd", "B-A (means)", "support", "B-A 95% CI"]
    food = next(r for r in rows if r[0] == "FOOD")
    assert food[3:5] == ["absent", "absent"]


def test_a_group_of_one_seed_compares_exactly_as_a_run(groups, tmp_path_factory):
    """C is a plain run; D a group holding the same predictions as its only seed: against group B they give the same rows."""
    tokens, gold = corpus(120)
    make_group(groups, "D", [1], tokens, gold, [noisy(gold, 0.4, seed=1)], TYPES)
    as_run = compare_json(groups, "C", "B")
    as_group = compare_json(groups, "D", "B")
    for typ in ("PER", "LOC", "ORG"):
        assert as_group["per_type"][typ]["D"]["mean"] == as_run["per_type"][typ]["C"]["mean"]
        assert as_group["per_type"][typ]["D"]["sd"] is None and as_run["per_type"][typ]["C"]["sd"] is None
        assert as_group["per_type"][typ]["delta"] == as_run["per_type"][typ]["delta"]
        assert as_group["per_type"][typ]["interval"] == as_run["per_type"][typ]["interval"]
    # one seed on each side: the second level draws the only seed, so the intervals equal the paired sentence bootstrap
    make_group(groups, "E", [7], tokens, without(gold, "FOOD"), [without(noisy(gold, 0.15, seed=4), "FOOD")], TYPES[:3])
    make_run(groups, "F", tokens, without(gold, "FOOD"), without(noisy(gold, 0.15, seed=4), "FOOD"), TYPES[:3])
    runs_only = compare_json(groups, "C", "F")
    groups_only = compare_json(groups, "D", "E")
    assert groups_only["runs"] == ["D", "E"] and "seeds" not in groups_only  # all groups of one: the plain comparison
    for typ in ("PER", "LOC", "ORG"):
        assert groups_only["per_type"][typ]["interval"] == runs_only["per_type"][typ]["interval"]
    assert groups_only["overall"]["interval"] == runs_only["overall"]["interval"]


def test_seed_resampling_draws_seeds_per_resample():
    one = [np.arange(12.0).reshape(4, 3)]
    np.testing.assert_array_equal(bootstrap.seed_resampled_means(one, np.random.default_rng(0)), one[0])
    # two seeds that always score 0 and 1: each resample's mean is 0, 0.5 or 1, all three occur
    two = [np.zeros((400, 1)), np.ones((400, 1))]
    means = bootstrap.seed_resampled_means(two, np.random.default_rng(0))[:, 0]
    assert set(np.round(means, 6)) == {0.0, 0.5, 1.0}
    assert abs(means.mean() - 0.5) < 0.05


def test_seed_spread_widens_the_interval(tmp_path):
    """The same mean difference, once with seeds that agree and once with seeds that scatter: the second interval is wider."""
    tokens, gold = corpus(120)
    base = noisy(gold, 0.3, seed=1)
    make_group(tmp_path, "A", [1, 2, 3], tokens, gold, [base, base, base], TYPES)
    make_group(tmp_path, "B", [1, 2, 3], tokens, gold, [noisy(gold, 0.2, seed=9)] * 3, TYPES)
    make_group(tmp_path, "S", [1, 2, 3], tokens, gold, [gold, noisy(gold, 0.2, seed=9), noisy(gold, 0.6, seed=8)], TYPES)
    tight = compare_json(tmp_path, "A", "B")["overall"]["interval"]
    wide = compare_json(tmp_path, "A", "S")["overall"]["interval"]
    assert wide["high"] - wide["low"] > 1.5 * (tight["high"] - tight["low"])


def test_groups_on_different_sentences_and_unfinished_members_are_one_line_errors(groups):
    tokens, gold = corpus(120)
    make_group(groups, "G", [1, 2], tokens[:-1], gold[:-1], [gold[:-1], gold[:-1]], TYPES)
    one_line_error(invoke("compare", "A", "G", "--runs-dir", groups), "different sentences", "120 vs 119")
    manifest_path = groups / "A" / "seed-2" / "snekner-run.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["status"] = "running"
    manifest_path.write_text(json.dumps(manifest))
    error = one_line_error(invoke("compare", "A", "B", "--runs-dir", groups), "has not finished")
    assert "--name A --resume" in error
    one_line_error(invoke("predict", "B", "some text", "--runs-dir", groups), "B is a group of 3 runs", "B/seed-1")
