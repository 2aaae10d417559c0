"""`snekner prep`: a dataset restricted to a tagset, tokenized and aligned, saved with its manifest."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from snekner.cli._util import (LANG_COLUMN, SCHEME, TAG_COLUMN, TAGS_COLUMN, TOKENS_COLUMN, complete_tagset, echo_err, handles_errors,
                               progress)
from snekner.data.prepare import PrepOptions, prepare
from snekner.data.reading import Reading
from snekner.data.sources import SAMPLE_DATASET

DEFAULTS = PrepOptions()


def _slug(text: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_." else "-" for c in Path(text.rstrip("/")).name or text)
    return keep.strip("-.") or "data"


def default_prep_out(dataset: str, lang: Optional[str], tagset: Optional[str], model: str) -> Path:
    name = "sample" if dataset == SAMPLE_DATASET else _slug(Path(dataset.rstrip("/")).stem if Path(dataset).is_file() else dataset.split("/")[-1])
    return Path("data") / f"{name}-{lang or 'all'}-{_slug(Path(tagset).stem) if tagset else 'all'}-{_slug(model)}"


@handles_errors
def prep_cli(
    dataset: str = typer.Option(DEFAULTS.dataset, "--dataset", help="Hub id, local folder in the hub layout, a save_to_disk folder, "
                                "CoNLL-style column files (a folder of train/dev/test files, or one file), a JSON-lines file, or snekner:sample."),
    lang: Optional[str] = typer.Option(DEFAULTS.lang, "--lang", help="Language to keep (default: all)."),
    tagset: Optional[str] = typer.Option(DEFAULTS.tagset, "--tagset", help="Tagset name (a, b, ...), JSON file, or type names "
                                         "(PER,ORG,LOC). Default: every label the dataset has.", autocompletion=complete_tagset),
    model: str = typer.Option(DEFAULTS.model, "--model", help="Tokenizer: hub id or local model folder."),
    max_length: int = typer.Option(DEFAULTS.max_length, "--max-length", help="Sub-words per sentence, special tokens included."),
    label_all_tokens: bool = typer.Option(DEFAULTS.label_all_tokens, "--label-all-tokens/--first-subword-only",
                                          help="Train on every sub-word, or on the first of each word only."),
    limit: Optional[int] = typer.Option(DEFAULTS.limit, "--limit", help="At most N sentences per split (quick runs)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (default: data/<dataset>-<lang>-<tagset>-<model>)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output folder."),
    num_proc: Optional[int] = typer.Option(DEFAULTS.num_proc, "--num-proc", help="Worker processes encoding the distinct words "
                                           "(default: this process, on the tokenizer's own threads; rarely faster)."),
    scheme: str = SCHEME,
    tokens_column: str = TOKENS_COLUMN,
    tags_column: str = TAGS_COLUMN,
    lang_column: str = LANG_COLUMN,
    tag_column: int = TAG_COLUMN,
):
    """Filter by language, restrict to a tagset, tokenize, align labels and save to disk."""
    out = out or default_prep_out(dataset, lang, tagset, model)
    options = PrepOptions(dataset=dataset, lang=lang, tagset=tagset, model=model, max_length=max_length,
                          label_all_tokens=label_all_tokens, limit=limit, num_proc=num_proc,
                          reading=Reading(scheme=scheme, tokens_column=tokens_column, tags_column=tags_column, lang_column=lang_column,
                                          tag_column=tag_column))
    manifest = prepare(options, out, overwrite, log=echo_err, progress=progress())
    sizes = ", ".join(f"{k} {v.sentences}" for k, v in manifest.splits.items())
    typer.echo(f"prepared {out} ({sizes}; labels: {' '.join(manifest.labels)})")
