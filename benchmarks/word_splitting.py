"""How well raw text is split back into its words: snekner's split_words against word splitters from PyPI.

    .venv/bin/python benchmarks/word_splitting.py [--data ../shared/data/wikineural] [--sentences 500] [--seed 0]
                                                  [--model DIR] [--langs en,de,...]

For each language of the WikiNEuRal test split (../shared/data/wikineural, never committed), two seeded samples of
--sentences sentences: any sentences, and sentences with an abbreviation or initial in them (a token with a letter
and a period that is not the sentence's last token: "Dr.", "U.S.", "J.", "m.in.", "тыс."). Each sentence's tokens are
rendered as a person writes them (render(): no space before , . ; : ! ? ) and closing quotes, none after ( and
opening quotes, clitics and elisions joined: "Smith's", "l'ombre", "dell'Italia", "27:59", "2012/13"), which gives each
token its character span in the text; each splitter then splits the text, and a token is recovered when a word has
exactly its span. Printed per language and splitter:

    sentences   % of the sentences whose words are exactly the tokens (any-sentence sample)
    words       % of the tokens recovered (any-sentence sample)
    abbrev.     % of the abbreviation/initial tokens recovered (abbreviation sample; n tokens in the header)
    mid-line    % of sentence-final periods split off when the sentence is not the line's last (the any-sentence sample
                joined two by two on one line: a splitter that keeps more periods on words misses more sentence ends)

and per splitter its cost: version, size of its own files, import time (a fresh process), sentences split per second.

The splitters: `before`, the run's fast tokenizer's normalizer + pre-tokenizer (MiniLM's BERT pre-tokenizer, which
splits every punctuation character: what split_words did before issue 22); `snekner`, split_words as it is now; and
those of syntok, sacremoses (Moses, with the sentence's language and with English for every language), spaCy
(spacy.blank(lang) and the multi-language "xx") and blingfire, each skipped when not installed (none of them is
snekner's dependency but sacremoses: `pip install syntok spacy blingfire` to compare them all). `snekner`'s import
time is that of sacremoses and of building its tokenizer, paid on the first raw text split.

Read the figures knowing that WikiNEuRal's tokens look Moses-made (German "am 19 . März", "2012 / 13", "m.in."
whole): Moses agrees with them by construction where its rules are arbitrary. That is also what a model fine-tuned
on such data has seen, which is why agreeing with them matters at predict time.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import json
import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
LANGS = ["en", "de", "fr", "es", "it", "nl", "pl", "pt", "ru"]

Spans = list[tuple[int, int]]

# ---------------------------------------------------------------- rendering tokens as raw text

NO_SPACE_BEFORE = {",", ".", ";", ":", "!", "?", ")", "]", "}", "%", "...", "…"}
NO_SPACE_AFTER = {"(", "[", "{", "¿", "¡"}
CLITICS = {"'s", "’s", "n't", "n’t", "'re", "'ll", "'ve", "'m", "'d", "’re", "’ll", "’ve", "’m", "’d"}
# a quote closes the innermost open quote it pairs with (it leans on the word before it), else it opens one (it leans
# on the word after it): "..." '...' «...» “...” „...“ „...” ‘...’ ‚...‘
CLOSES = {'"': '"', "'": "'", "»": "«", "”": "“„", "“": "„", "’": "‘'", "‘": "‚"}
OPENS = {'"', "'", "«", "“", "„", "‘", "‚", "’"}
JOINERS = {":", "/", ".", ","}  # between two numbers: "27:59", "2012/13", "3.5", "1,000"


def _elided(token: str) -> bool:
    """French or Italian elision: "l'", "dell'", "qu’" join the next word."""
    return len(token) > 1 and token[-1] in "'’" and token[-2].isalpha()


def render(tokens: list[str]) -> tuple[str, Spans]:
    """The text a person would write for `tokens`, and each token's character span in it."""
    parts, spans, at = [], [], 0
    open_quotes: list[str] = []
    glue_next = True  # no space before the first token
    for i, token in enumerate(tokens):
        between_numbers = 0 < i < len(tokens) - 1 and tokens[i - 1][-1:].isdigit() and tokens[i + 1][:1].isdigit()
        closing = token in CLOSES and bool(open_quotes) and open_quotes[-1] in CLOSES[token]
        space = not (glue_next or closing or token in NO_SPACE_BEFORE or token in CLITICS
                     or (token in JOINERS and between_numbers) or (token in CLOSES and token not in OPENS))
        glue_next = token in NO_SPACE_AFTER or _elided(token) or (token in JOINERS and between_numbers)
        if closing:
            open_quotes.pop()
        elif token in OPENS:
            open_quotes.append(token)
            glue_next = True
        if space:
            parts.append(" ")
            at += 1
        spans.append((at, at + len(token)))
        parts.append(token)
        at += len(token)
    return "".join(parts), spans


def is_abbreviation(tokens: list[str], i: int) -> bool:
    token = tokens[i]
    return i < len(tokens) - 1 and "." in token and any(c.isalpha() for c in token)


# ---------------------------------------------------------------- samples

def samples(data: Path, lang: str, size: int, seed: int) -> tuple[list[list[str]], list[list[str]]]:
    """Seeded samples of a language's test sentences: any sentences, and sentences with an abbreviation."""
    with open(data / "test" / f"test_{lang}.jsonl", encoding="utf-8") as f:
        sentences = [json.loads(line)["tokens"] for line in f if line.strip()]
    rng = random.Random(f"{seed}-{lang}")
    with_abbreviations = [t for t in sentences if any(is_abbreviation(t, i) for i in range(len(t)))]
    return (rng.sample(sentences, min(size, len(sentences))),
            rng.sample(with_abbreviations, min(size, len(with_abbreviations))))


# ---------------------------------------------------------------- splitters: text -> word spans

def aligned(text: str, words: list[str]) -> Spans:
    """Spans of `words` found in order in `text` (for splitters that give strings only); a word that is not
    found where expected (a splitter that changed characters) gets no span, so it counts as not recovered."""
    spans, at = [], 0
    for word in words:
        found = text.find(word, at)
        if found < 0 or text[at:found].strip():
            continue
        spans.append((found, found + len(word)))
        at = found + len(word)
    return spans


def make_splitters(model: str) -> dict[str, tuple[str, Callable[[str, str], Spans]]]:
    """name -> (distribution whose cost is reported, split(text, lang) -> spans); the ones not installed are left out."""
    from transformers import AutoTokenizer

    from snekner.predict import words

    tokenizer = AutoTokenizer.from_pretrained(model)
    splitters = {
        "before": ("tokenizers", lambda text, lang: words.pre_tokenizer_split(text, tokenizer).offsets),
        "snekner": ("snekner", lambda text, lang: words.split_words(text, tokenizer).offsets),
    }
    try:
        from syntok.tokenizer import Tokenizer

        syntok = Tokenizer(replace_not_contraction=False)
        splitters["syntok"] = ("syntok", lambda text, lang: [(t.offset, t.offset + len(t.value)) for t in syntok.tokenize(text)])
    except ImportError:
        pass
    try:
        from sacremoses import MosesTokenizer

        moses: dict[str, MosesTokenizer] = {}

        def moses_split(text: str, lang: str) -> Spans:
            tok = moses.get(lang) or moses.setdefault(lang, MosesTokenizer(lang))
            return aligned(text, tok.tokenize(text, escape=False))

        splitters["moses(lang)"] = ("sacremoses", moses_split)
        splitters["moses(en)"] = ("sacremoses", lambda text, lang: moses_split(text, "en"))
    except ImportError:
        pass
    try:
        import spacy

        nlps: dict[str, object] = {}

        def spacy_split(text: str, lang: str) -> Spans:
            nlp = nlps.get(lang) or nlps.setdefault(lang, spacy.blank(lang))
            return [(t.idx, t.idx + len(t.text)) for t in nlp.make_doc(text) if not t.is_space]

        splitters["spacy(lang)"] = ("spacy", spacy_split)
        splitters["spacy(xx)"] = ("spacy", lambda text, lang: spacy_split(text, "xx"))
    except ImportError:
        pass
    try:
        import blingfire

        splitters["blingfire"] = ("blingfire", lambda text, lang: list(blingfire.text_to_words_with_offsets(text)[1]))
    except ImportError:
        pass
    return splitters


# ---------------------------------------------------------------- costs

IMPORTS = {"tokenizers": "import tokenizers", "snekner": "import snekner.predict.words as w; w.split_words('Dr. Smith.')", "syntok": "import syntok.tokenizer",
           "sacremoses": "import sacremoses; sacremoses.MosesTokenizer('en')",
           "spacy": "import spacy; spacy.blank('en')", "blingfire": "import blingfire"}


def import_seconds(dist: str) -> float:
    """Seconds to import (and set up) a splitter in a fresh process, the best of three."""
    code = f"import time; t = time.perf_counter(); {IMPORTS[dist]}; print(time.perf_counter() - t)"
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                 cwd=str(REPO)).stdout) for _ in range(3)]
    return min(runs)


def own_size_mb(dist: str) -> float | None:
    """Size of the distribution's own installed files (not its dependencies)."""
    try:
        files = importlib.metadata.distribution(dist).files or []
    except importlib.metadata.PackageNotFoundError:
        return None
    return sum(f.locate().stat().st_size for f in files if f.locate().is_file()) / 1e6


# ---------------------------------------------------------------- measuring

def recovered(gold: Spans, words: Spans, which: list[int] | None = None) -> int:
    found = set(words)
    return sum(1 for i, span in enumerate(gold) if (which is None or i in which) and span in found)


def measure(split: Callable[[str, str], Spans], lang: str, any_sample, abbreviation_sample) -> dict:
    exact = words = 0
    for tokens in any_sample:
        text, gold = render(tokens)
        spans = split(text, lang)
        exact += spans == gold
        words += recovered(gold, spans)
    mid, lines = mid_line(split, lang, any_sample)
    abbreviations = found = 0
    for tokens in abbreviation_sample:
        text, gold = render(tokens)
        which = [i for i in range(len(tokens)) if is_abbreviation(tokens, i)]
        abbreviations += len(which)
        found += recovered(gold, split(text, lang), which)
    return {"sentences": exact / len(any_sample), "words": words / sum(len(t) for t in any_sample),
            "abbrev.": found / max(abbreviations, 1), "abbreviations": abbreviations, "mid-line": mid,
            "texts": len(any_sample) + len(abbreviation_sample) + lines}


def mid_line(split: Callable[[str, str], Spans], lang: str, any_sample) -> tuple[float, int]:
    """Share of sentence-final periods split off when the sentence is not the line's last: sentences of the sample
    joined two by two on one line (a paragraph), counted for the first one when it ends with a period."""
    ends = found = 0
    for first, second in zip(any_sample[::2], any_sample[1::2]):
        if first[-1] != ".":
            continue
        (text, gold), (text2, _) = render(first), render(second)
        ends += 1
        found += gold[-1] in set(split(text + " " + text2, lang))
    return found / max(ends, 1), ends


def table(title: str, rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    return "\n".join([title, line(header), line(["-" * w for w in widths]), *map(line, rows)])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "wikineural"), help="MultiNERD-layout folder")
    p.add_argument("--sentences", type=int, default=500, help="sentences per language and sample")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model", default=None, help="model folder whose tokenizer splits (default: ../shared/tools/pretrained-minilm)")
    p.add_argument("--langs", default=",".join(LANGS))
    args = p.parse_args()
    data = Path(args.data)
    model = args.model or subprocess.run([str(REPO.parent / "shared" / "tools" / "pretrained-minilm")], capture_output=True,
                                         text=True, check=True).stdout.strip()
    langs = [lang for lang in args.langs.split(",") if (data / "test" / f"test_{lang}.jsonl").is_file()]
    splitters = make_splitters(model)
    results: dict[tuple[str, str], dict] = {}
    seconds = {name: 0.0 for name in splitters}
    for lang in langs:
        any_sample, abbreviation_sample = samples(data, lang, args.sentences, args.seed)
        for name, (_, split) in splitters.items():
            t = time.perf_counter()
            results[lang, name] = measure(split, lang, any_sample, abbreviation_sample)
            seconds[name] += time.perf_counter() - t
    print(f"{args.sentences} sentences per language and sample (seed {args.seed}) of {data}/test, tokenizer of {model}\n")
    for metric, what in [("sentences", "sentences whose words are recovered exactly"), ("words", "words recovered"),
                         ("abbrev.", "abbreviations and initials recovered"),
                         ("mid-line", "sentence-final periods split off inside a line (two sentences on one line)")]:
        rows = [[lang + (f" ({results[lang, 'before']['abbreviations']})" if metric == "abbrev." else ""),
                 *[f"{100 * results[lang, name][metric]:.1f}" for name in splitters]] for lang in langs]
        print(table(f"% {what}" + (" (n tokens)" if metric == "abbrev." else ""), rows, ["lang", *splitters]) + "\n")
    texts = sum(results[lang, "before"]["texts"] for lang in langs)
    cost_rows = []
    for name, (dist, _) in splitters.items():
        version = importlib.metadata.version(dist) if dist != "snekner" else "-"
        size = own_size_mb(dist) if dist != "snekner" else None
        cost_rows.append([name, f"{dist} {version}", "-" if size is None else f"{size:.1f}", f"{import_seconds(dist):.2f}",
                          f"{texts / seconds[name]:,.0f}"])
    print(table("cost", cost_rows, ["splitter", "package", "own MB", "import s", "sentences/s"]))


if __name__ == "__main__":
    main()
