"""Model cards: a README.md for a finished run, with Hugging Face hub metadata.

The card starts with YAML front matter (language, license when known, library, tags,
base model, datasets and a `model-index` holding the test scores of `snekner eval`), made by
huggingface_hub's ModelCardData and EvalResult, so it is the metadata the hub reads; then
says in markdown what the model was trained from and on, with which labels and
hyperparameters, how it scored per entity type, and how to load it. It is written to
RUN/README.md and copied to RUN/model/README.md, so the folder `--push-to-hub` uploads
carries it. (huggingface_hub is imported when a card is made, not with the command line.)
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from snekner.data.sources import SAMPLE_DATASET
from snekner.errors import MissingModelError
from snekner.ner.metrics import DEFAULT_METRIC, SCORE_ORDER, in_text, title
from snekner.present.markdown import code, code_fence, md
from snekner.present.text import seed_rows
from snekner.store.atomic import write_lines
from snekner.store.evaluations import Evaluation, Scores, find_evaluation
from snekner.store.manifests import Alignment, PreparedManifest, RunManifest
from snekner.store.runs import Experiment, Run

CARD_NAME = "README.md"
TAGS = ["token-classification", "ner", "snekner", "tensorflow"]
# licenses of datasets snekner knows by hub id (from their dataset cards); others: read from a
# local dataset folder's README front matter, else left out of the card
KNOWN_DATASET_LICENSES = {
    "Babelscape/multinerd": "cc-by-nc-sa-4.0",
    "Babelscape/wikineural": "cc-by-nc-sa-4.0",
}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


# -- what the run says about itself ---------------------------------------------------------------
def _is_local(spec: str) -> bool:
    return spec.startswith(("/", ".", "~")) or Path(spec).expanduser().exists()


def hub_model_id(model: str | None) -> str | None:
    """The base model's hub id, or None when it was a local folder."""
    if not model or _is_local(model) or not _HUB_ID.match(model):
        return None
    return model


def hub_dataset_id(data_manifest: PreparedManifest) -> str | None:
    spec = data_manifest.dataset
    resolved = data_manifest.dataset_resolved or ""
    if resolved.startswith("hf://datasets/") or (data_manifest.dataset_layout == "hub builder" and _HUB_ID.match(spec) and not _is_local(spec)):
        return spec
    return None


def _front_matter_license(readme: Path) -> str | None:
    """The license in a local dataset card's front matter (None without one, or when it does not parse)."""
    import yaml
    from huggingface_hub.repocard import metadata_load

    try:
        meta = metadata_load(readme) or {}
    except (OSError, ValueError, yaml.YAMLError):  # no such file, not UTF-8, front matter that is no mapping or no YAML
        return None
    license_id = meta.get("license")
    return license_id if isinstance(license_id, str) else None


def dataset_license(data_manifest: PreparedManifest) -> str | None:
    hub_id = hub_dataset_id(data_manifest)
    if hub_id:
        return KNOWN_DATASET_LICENSES.get(hub_id)
    resolved = data_manifest.dataset_resolved
    if resolved and not resolved.startswith("hf://"):
        return _front_matter_license(Path(resolved) / "README.md")
    return None


def languages(data_manifest: PreparedManifest) -> list[str]:
    if data_manifest.lang:
        return [data_manifest.lang]
    return list(data_manifest.languages_in_source)


def dataset_name(data_manifest: PreparedManifest) -> tuple[str, str]:
    """(name, type) of the training data for the model-index."""
    spec = data_manifest.dataset or "unknown"
    if spec == SAMPLE_DATASET:
        return "snekner sample data (synthetic, MultiNERD layout)", "snekner-sample"
    hub_id = hub_dataset_id(data_manifest)
    if hub_id:
        return hub_id, hub_id
    name = Path(spec.rstrip("/")).name or spec
    return f"{name} (local data)", name


# -- rendering ----------------------------------------------------------------------------------
def _option(value) -> str:
    """An option's value as a table cell (Markdown)."""
    if value is None:
        return "auto"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    return code(value, in_table=True) if isinstance(value, str) else md(value)


SCORE_TITLES = [in_text(m) for m in SCORE_ORDER]  # the score columns of the card's tables


def _values(scores: Scores) -> list[str]:
    """The scores' metrics, in the order of SCORE_TITLES."""
    return [f"{scores.value(m):.4f}" for m in SCORE_ORDER]


def _cell(value) -> str:
    """A table cell already in Markdown (text through md, code through code(in_table=True), numbers), on one line."""
    return str(value).replace("\n", " ")


def _md_table(headers: list[str], rows: list[list], numeric: bool = True) -> list[str]:
    """A GitHub-flavoured Markdown table; every header and cell is Markdown already (see _cell)."""
    lines = ["| " + " | ".join(_cell(h) for h in headers) + " |",
             "|" + "|".join(["---"] + ["---:" if numeric else "---"] * (len(headers) - 1)) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _model_index_values(overall: Scores) -> list[tuple[str, str, float]]:
    """(type, name, value) of each overall score the model-index lists: every metric of the registry, then word accuracy."""
    found = [(m.value, title(m), overall.value(m)) for m in SCORE_ORDER]
    return found + ([("accuracy", "Word accuracy", overall.accuracy)] if overall.accuracy is not None else [])


def card_data(run: Run, evaluation: Evaluation | None, repo_id: str | None = None):
    """The card's metadata as a huggingface_hub ModelCardData: what the hub reads (widget, search, the
    evaluation results of the model-index, one EvalResult per overall metric of the test evaluation)."""
    from huggingface_hub import EvalResult, ModelCardData

    manifest = run.manifest
    data_manifest = manifest.data_manifest
    langs = languages(data_manifest)
    hub_data = hub_dataset_id(data_manifest)
    results = None
    if evaluation is not None:
        name, typ = dataset_name(data_manifest)
        results = [EvalResult(task_type="token-classification", task_name="Named Entity Recognition", dataset_type=typ,
                              dataset_name=name, dataset_config=data_manifest.lang or None, dataset_split=evaluation.split,
                              metric_type=key, metric_value=value, metric_name=f"{label} ({evaluation.mode})" if key != "accuracy" else label)
                   for key, label, value in _model_index_values(evaluation.overall)]
    return ModelCardData(
        language=(langs[0] if len(langs) == 1 else langs) or None, license=dataset_license(data_manifest),
        library_name="transformers", tags=list(TAGS), base_model=hub_model_id(manifest.model),
        datasets=[hub_data] if hub_data else None, pipeline_tag="token-classification",
        model_name=(repo_id or run.name) if results else None, eval_results=results,
    )


def render_card(run: Run, repo_id: str | None = None) -> str:
    """The model card of a finished run, as markdown with YAML front matter."""
    evaluation = find_evaluation(run, "test")
    lines = ["---", card_data(run, evaluation, repo_id).to_yaml(), "---", ""]
    lines += _intro(run, repo_id)
    lines += _data_section(run.manifest.data_manifest)
    lines += _labels_section(run)
    lines += _hyperparameters_section(run.manifest)
    lines += _evaluation_section(run, evaluation)
    lines += _usage_section(run, repo_id)
    return str(_model_card("\n".join(lines).rstrip("\n") + "\n"))


def shared_name(model: str) -> str:
    """A model as a card names it: its hub id, or a local folder by its name; never an absolute path of the machine that
    trained it."""
    path = Path(model.rstrip("/"))
    return path.name or model if path.is_absolute() or model.startswith(("~", "./", "../")) else model


def _intro(run: Run, repo_id: str | None) -> list[str]:
    """The title, what the model is, and its base model and tokenizer."""
    data_manifest = run.manifest.data_manifest
    model = run.manifest.model or "unknown"
    base = hub_model_id(model)
    types = data_manifest.tagset.types
    base_text = (f"[{md(base)}](https://huggingface.co/{base})" if base
                 else f"a local model ({code(shared_name(model))}, a folder on the machine that trained it)")
    lines = [f"# {md(repo_id or run.name)}", ""]
    lines += [f"A token-classification (named-entity recognition) model fine-tuned from {base_text} with "
              f"snekner and TensorFlow, as run {code(run.name)}. "
              f"It tags {len(types)} entity type{'s' if len(types) != 1 else ''} in BIO format.", ""]
    lines += ["## Base model", ""]
    lines += [f"- model: {code(base) if base else base_text}"]
    alignment = {Alignment.FIRST_SUBWORD: "the first sub-word of each word", Alignment.ALL_SUBWORDS: "every sub-word"}
    lines += [f"- tokenizer: {code(shared_name(data_manifest.tokenizer))}, at most {data_manifest.max_length} sub-words "
              f"per sentence, trained on labels of {alignment[data_manifest.alignment]}; "
              "a word's prediction is that of its first sub-word"]
    return lines + [""]


def _data_section(data_manifest: PreparedManifest) -> list[str]:
    name, _ = dataset_name(data_manifest)
    langs = languages(data_manifest)
    lines = ["## Data", ""]
    lines += [f"- dataset: {md(name)}"]
    lines += [f"- language: {md(', '.join(langs)) if langs else 'not recorded'}"]
    if data_manifest.tagset.name:
        lines += [f"- tagset: {code(data_manifest.tagset.name)}"]
    if data_manifest.limit:
        lines += [f"- at most {data_manifest.limit} sentences per split were used (`--limit`)"]
    license_id = dataset_license(data_manifest)
    if license_id:
        lines += [f"- license of the data: {md(license_id)}"]
    if data_manifest.splits:
        lines += ["", *_md_table(["split", "sentences", "words"],
                                 [[md(s), v.sentences, v.words] for s, v in data_manifest.splits.items()])]
    return lines + [""]


def _labels_section(run: Run) -> list[str]:
    types = run.manifest.data_manifest.tagset.types
    lines = ["## Labels", ""]
    if types:
        lines += [f"Entity types: {', '.join(md(t) for t in types)}.", ""]
    return lines + ["Label ids: " + ", ".join(f"{i} {code(label)}" for i, label in enumerate(run.labels)) + ".", ""]


def _hyperparameters_section(manifest: RunManifest) -> list[str]:
    options = dict(manifest.options)
    options["model"] = shared_name(options.get("model") or manifest.model)  # None: the model the data was prepared with
    rows = [[md(key), _option(value)] for key, value in options.items()]
    for key in ("epochs_run", "best_epoch", "best_validation_f1", "stopped_early"):
        if getattr(manifest, key) is not None:
            rows.append([md(key), _option(getattr(manifest, key))])
    if (manifest.devices or {}).get("description"):
        rows.append(["devices", md(manifest.devices["description"])])
    return ["## Training hyperparameters", "", *_md_table(["option", "value"], rows, numeric=False), ""]


def _evaluation_section(run: Run, evaluation: Evaluation | None) -> list[str]:
    """The test scores per type and overall (and per language), or how to get them."""
    lines = ["## Evaluation", ""]
    if evaluation is None:
        return lines + [f"No test evaluation yet: run {code(f'snekner eval {run.name}')} (it writes eval/test.json), "
                        f"then {code(f'snekner card {run.name}')} to put the scores here.", ""]
    o = evaluation.overall
    lines += [f"Word-level entity scores on the {md(evaluation.split)} split "
              f"({md(evaluation.n_sentences)} sentences, {md(evaluation.mode)} chunking), "
              f"micro-averaged over entities; word accuracy {o.accuracy or 0:.4f}.", ""]
    rows = [[md(t), *_values(v), v.support] for t, v in evaluation.per_type.items()]
    rows.append(["**overall**", *_values(o), o.support])
    lines += [*_md_table(["type", *SCORE_TITLES, "support"], rows), ""]
    manifest = run.manifest
    evaluated, fingerprint = evaluation.data, evaluation.data_fingerprint
    if evaluated and (Path(evaluated).resolve() != Path(manifest.data).resolve()
                      or (fingerprint and manifest.data_fingerprint and fingerprint != manifest.data_fingerprint)):
        lines += [f"These scores are on prepared data other than the data the model was trained on: {code(evaluated)}.", ""]
    if evaluation.per_language:
        rows = [[md(lg), v.n_sentences, *_values(v.overall), v.overall.support] for lg, v in evaluation.per_language.items()]
        lines += ["Per language:", "", *_md_table(["language", "sentences", *SCORE_TITLES, "support"], rows), ""]
    return lines


def _usage_section(run: Run, repo_id: str | None) -> list[str]:
    """How to load the model: from the hub repo (PyTorch, then TensorFlow) when pushed, else from the run folder."""
    lines = ["## How to use", ""]
    source = repo_id or f"{shared_name(str(run.path.resolve()))}/{run.model_dir.name}"  # the run's folder, wherever it is now
    if repo_id:
        lines += [f"{code(repo_id)} holds PyTorch weights (`model.safetensors`, made by `snekner export --format pytorch` and checked "
                  "against the TensorFlow model's logits) and the TensorFlow weights (`tf_model.h5`). With PyTorch:", "",
                  *_code_block(["from transformers import pipeline", "",
                                f'ner = pipeline("token-classification", model={json.dumps(repo_id)}, aggregation_strategy="first")',
                                'print(ner("Angela Merkel visited Paris."))']), "",
                  "With TensorFlow (`use_safetensors=False`: transformers 4.x would otherwise read the PyTorch weights):", ""]
    else:
        lines += [f"The model folder ({code(run.model_dir.name + '/')} of the run) holds the TensorFlow weights, the tokenizer and the "
                  "label maps (`snekner export RUN --format pytorch` makes a PyTorch copy):", ""]
    loads = f"{json.dumps(source)}, use_safetensors=False" if repo_id else json.dumps(source)
    lines += [*_code_block(["import os",
                            "",
                            'os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # transformers 4.x TF models need Keras 2 (tf-keras)',
                            "",
                            "from transformers import AutoTokenizer, TFAutoModelForTokenClassification, pipeline",
                            "",
                            f"tokenizer = AutoTokenizer.from_pretrained({json.dumps(source)})",
                            f"model = TFAutoModelForTokenClassification.from_pretrained({loads})",
                            'ner = pipeline("token-classification", model=model, tokenizer=tokenizer, aggregation_strategy="first")',
                            'print(ner("Angela Merkel visited Paris."))']), ""]
    if repo_id:
        lines += [f"From the run folder instead: {code(f'from_pretrained({json.dumps(str(run.model_dir))})')}.", ""]
    return lines


def _code_block(lines: list[str]) -> list[str]:
    """Python code as a fenced block; the fence is longer than any run of backticks in it (a path or repo id may hold some)."""
    fence = code_fence("\n".join(lines))
    return [f"{fence}python", *lines, fence]


def _model_card(text: str):
    """`text` as a huggingface_hub ModelCard: parsing it checks that the front matter reads back as the hub reads it."""
    from huggingface_hub import ModelCard

    return ModelCard(text)


def write_card(run: Run, repo_id: str | None = None) -> Path:
    """Write RUN/README.md and RUN/model/README.md atomically; returns the first path."""
    if not run.model_dir.is_dir():
        raise MissingModelError(f"run {run.name} has no model folder ({run.model_dir})", run=run)
    text = render_card(run, repo_id).rstrip("\n")
    path = run.path / CARD_NAME
    write_lines(path, [text])
    write_lines(run.model_dir / CARD_NAME, [text])
    return path


def render_group_card(experiment: Experiment) -> str:
    """The README of a group of seeds: what it is, its members, and their test scores side by side (mean ± sd)."""
    name, seeds = experiment.name, experiment.seeds
    first = experiment.runs[0].manifest
    lines = [f"# {md(name)}: {len(seeds)} runs of one recipe, seeds {', '.join(map(str, seeds))}", "",
             f"Each member is a run with its own model and card: {', '.join(code(r.path.name + '/') for r in experiment.runs)}. "
             f"They share the data ({code(first.data)}), the base model ({code(first.model)}) and every option but the seed:", "",
             ", ".join(f"{code(k.replace('_', '-'))} {md(v)}" for k, v in experiment.group.options.items() if v is not None and k != "model"), ""]
    evaluations = [find_evaluation(run, "test") for run in experiment.runs]
    if None in evaluations:
        missing = [r.name for r, e in zip(experiment.runs, evaluations) if e is None]
        lines += [f"No test evaluation yet for {', '.join(md(m) for m in missing)}: run {code(f'snekner eval {name}')}, then "
                  f"{code(f'snekner card {name}')}.", ""]
    else:
        lines += [f"Word-level {title(DEFAULT_METRIC)} on the test split ({md(evaluations[0].n_sentences)} sentences, "
                  f"{md(evaluations[0].mode)}): mean ± standard deviation over the seeds, then each seed.", ""]
        *types, overall = seed_rows(evaluations, DEFAULT_METRIC)  # a row per type, then the overall row
        rows = [*([md(row[0]), *row[1:]] for row in types), ["**overall**", *overall[1:]]]
        lines += [*_md_table(["type", f"{title(DEFAULT_METRIC)} mean ± sd", *(f"seed {s}" for s in seeds)], rows), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def write_group_card(experiment: Experiment) -> list[Path]:
    """Every member's card (write_card), then GROUP/README.md; returns the paths, the group's first."""
    members = [write_card(run) for run in experiment.runs]
    path = experiment.path / CARD_NAME
    write_lines(path, [render_group_card(experiment).rstrip("\n")])
    return [path, *members]
