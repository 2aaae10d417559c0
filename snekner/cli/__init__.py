"""The `snekner` command line: one module per command, each a thin `*_cli` that parses its options,
calls one plain function of the core and renders what it returns (spaCy's layout)."""
from __future__ import annotations

from snekner.cli import adapt, card, compare, demo, evaluate, export, inspect, predict, prep, push, report, search, train
from snekner.cli._util import app

# registered here, in the order `snekner --help` lists them
for name, command in [("inspect", inspect.inspect_cli), ("adapt", adapt.adapt_cli), ("prep", prep.prep_cli), ("train", train.train_cli),
                      ("search", search.search_cli),
                      ("eval", evaluate.eval_cli), ("compare", compare.compare_cli), ("predict", predict.predict_cli),
                      ("report", report.report_cli), ("card", card.card_cli), ("export", export.export_cli), ("push", push.push_cli),
                      ("demo", demo.demo_cli)]:
    app.command(name)(command)


def main() -> None:
    app()
