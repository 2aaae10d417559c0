"""Raw text -> words (snekner.predict.words): Moses' rules with exact offsets, abbreviations and initials whole,
a sentence's final period split off, CJK as the run's tokenizer splits it (issue 22)."""
from __future__ import annotations

import types

import pytest

from snekner.predict import Sentence, split_words


def backend(normalizer=None, pre_tokenizer=None):
    from tokenizers import Tokenizer, models

    tok = Tokenizer(models.WordPiece({"[UNK]": 0}, unk_token="[UNK]"))
    if normalizer is not None:
        tok.normalizer = normalizer
    if pre_tokenizer is not None:
        tok.pre_tokenizer = pre_tokenizer
    return types.SimpleNamespace(backend_tokenizer=tok)


def bert():
    from tokenizers import normalizers, pre_tokenizers

    return backend(normalizers.BertNormalizer(lowercase=True), pre_tokenizers.BertPreTokenizer())


def check_offsets(sentence: Sentence):
    assert sentence.text is not None and len(sentence.words) == len(sentence.offsets)
    for word, (a, b) in zip(sentence.words, sentence.offsets):
        assert sentence.text[a:b] == word and word.strip() == word and word
    assert sentence.offsets == sorted(sentence.offsets)
    assert all(b1 <= a2 for (_, b1), (a2, _) in zip(sentence.offsets, sentence.offsets[1:]))


def words(text: str, tokenizer="bert") -> list[str]:
    s = split_words(text, bert() if tokenizer == "bert" else tokenizer)
    check_offsets(s)
    assert "".join(s.words) == "".join(text.split())  # nothing lost
    return s.words


# ---------------------------------------------------------------- abbreviations, initials, final periods

@pytest.mark.parametrize("text, expected", [
    ("Dr. Smith went to Washington.", ["Dr.", "Smith", "went", "to", "Washington", "."]),
    ("The U.S. Army", ["The", "U.S.", "Army"]),
    ("J. R. R. Tolkien wrote it.", ["J.", "R.", "R.", "Tolkien", "wrote", "it", "."]),
    ("It ends here.", ["It", "ends", "here", "."]),
    # a known abbreviation that ends the text still gives its period up; one with a period inside keeps it
    ("She met Dr.", ["She", "met", "Dr", "."]),
    ("He lives in Washington D.C.", ["He", "lives", "in", "Washington", "D.C."]),
    # a number before a period mid-text ends a sentence ("August 21."): numbers are nobody's abbreviation here
    ("Born on August 21. The end came later.", ["Born", "on", "August", "21", ".", "The", "end", "came", "later", "."]),
    ("Mrs. Jones, e.g. here, said so.", ["Mrs.", "Jones", ",", "e.g.", "here", ",", "said", "so", "."]),
])
def test_abbreviations_and_initials_stay_whole_and_the_final_period_splits(text, expected):
    assert words(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("Er kam z.B. mit Prof. Müller.", ["Er", "kam", "z.B.", "mit", "Prof.", "Müller", "."]),
    ("Do jego doktorantów należał m.in. David Harel.", ["Do", "jego", "doktorantów", "należał", "m.in.", "David", "Harel", "."]),
    ("Автором является Л. М. Зингерталь.", ["Автором", "является", "Л.", "М.", "Зингерталь", "."]),
    ("Около 10 тыс. человек.", ["Около", "10", "тыс.", "человек", "."]),
])
def test_abbreviations_of_other_languages_without_knowing_the_language(text, expected):
    assert words(text) == expected


def test_commas_quotes_and_brackets_split_off():
    text = 'Smith said, "the U.S. team won" (really).'
    assert words(text) == ["Smith", "said", ",", '"', "the", "U.S.", "team", "won", '"', "(", "really", ")", "."]
    assert words("«Dark Entries», т.е. демо.") == ["«", "Dark", "Entries", "»", ",", "т.е.", "демо", "."]


def test_hyphenated_words_and_numbers_stay_whole():
    # a slash splits, as in WikiNEuRal ("2012 / 13")
    assert words("Jean-Luc paid 5,300 dollars in 2012/13.") == ["Jean-Luc", "paid", "5,300", "dollars", "in", "2012", "/", "13", "."]


@pytest.mark.parametrize("text, expected", [
    ("Smith's team didn't win.", ["Smith", "'s", "team", "did", "n't", "win", "."]),
    ("L'équipe d'Italia.", ["L'", "équipe", "d'", "Italia", "."]),
    ("Il regno dell'Islam.", ["Il", "regno", "dell'", "Islam", "."]),
    ("O'Leary read the Qur'an.", ["O'Leary", "read", "the", "Qur'an", "."]),
    ("the players' union", ["the", "players", "'", "union"]),
])
def test_apostrophes_between_letters(text, expected):
    assert words(text) == expected


# ---------------------------------------------------------------- offsets, scripts, tokenizers

def test_offsets_point_into_the_original_text_whatever_the_spaces():
    text = "  Dr.\tSmith\u00a0met  J. R. R. Tolkien\u2009in the U.S. "
    s = split_words(text, bert())
    check_offsets(s)
    assert s.words == ["Dr.", "Smith", "met", "J.", "R.", "R.", "Tolkien", "in", "the", "U.S."]
    assert split_words("   ", bert()).words == [] and split_words("", bert()).words == []


def test_combining_marks_never_split_a_word():
    assert words("ภาษาไทยง่ายนิดเดียว") == ["ภาษาไทยง่ายนิดเดียว"]  # Thai tone mark U+0E48
    assert words("Cafe\u0301 ok.") == ["Cafe\u0301", "ok", "."]  # a decomposed accent


TEXT = "Héllo, 我爱北京 and  naïve   Jean-Luc."


def test_cjk_is_split_as_the_tokenizer_splits_it():
    from tokenizers import pre_tokenizers

    # BERT's normalizer puts each ideograph on its own; lower-casing and accent stripping do not leak into the words
    assert words(TEXT) == ["Héllo", ",", "我", "爱", "北", "京", "and", "naïve", "Jean-Luc", "."]
    # a SentencePiece or byte-level tokenizer keeps a run of ideographs whole, as it did before
    for pre in (pre_tokenizers.Metaspace(), pre_tokenizers.ByteLevel(add_prefix_space=True)):
        assert words(TEXT, backend(pre_tokenizer=pre)) == ["Héllo", ",", "我爱北京", "and", "naïve", "Jean-Luc", "."]
    assert words("東京に行きました。") == ["東", "京", "に", "行", "きました", "。"]


def test_without_a_tokenizer_moses_alone_splits():
    assert words(TEXT, None) == ["Héllo", ",", "我", "爱", "北", "京", "and", "naïve", "Jean-Luc", "."]
    assert words(TEXT, backend()) == ["Héllo", ",", "我爱北京", "and", "naïve", "Jean-Luc", "."]  # no pre-tokenizer: whitespace


def test_a_word_moses_changed_falls_back_to_the_pre_tokenizer(monkeypatch):
    from snekner.predict import words as module

    monkeypatch.setattr(module, "_moses", lambda: types.SimpleNamespace(tokenize=lambda text, escape: ["Dr.", "Smlth"]))
    s = split_words("Dr. Smith", bert())
    check_offsets(s)
    assert s.words == ["Dr", ".", "Smith"]  # the pre-tokenizer's split: every punctuation character a word


# ---------------------------------------------------------------- before: the tokenizer's pre-tokenizer

def test_pre_tokenizer_split_with_bert_normalizer_and_pre_tokenizer():
    from snekner.predict.words import pre_tokenizer_split

    s = pre_tokenizer_split(TEXT, bert())
    # lower-casing and accent stripping do not leak into the words; CJK characters are words of their own
    assert s.words == ["Héllo", ",", "我", "爱", "北", "京", "and", "naïve", "Jean", "-", "Luc", "."]
    check_offsets(Sentence(s.words, TEXT, s.offsets))


def test_pre_tokenizer_split_with_sentencepiece_and_byte_level_pre_tokenizers():
    from tokenizers import pre_tokenizers

    from snekner.predict.words import pre_tokenizer_split

    s = pre_tokenizer_split(TEXT, backend(pre_tokenizer=pre_tokenizers.Metaspace()))
    assert s.words == ["Héllo,", "我爱北京", "and", "naïve", "Jean-Luc."]
    check_offsets(Sentence(s.words, TEXT, s.offsets))
    s = pre_tokenizer_split(TEXT, backend(pre_tokenizer=pre_tokenizers.ByteLevel(add_prefix_space=True)))
    assert s.words == ["Héllo", ",", "我爱北京", "and", "naïve", "Jean", "-", "Luc", "."]
    check_offsets(Sentence(s.words, TEXT, s.offsets))


def test_pre_tokenizer_split_without_pre_tokenizer_splits_on_whitespace():
    from snekner.predict.words import pre_tokenizer_split

    assert pre_tokenizer_split(TEXT, backend()).words == TEXT.split()
    assert pre_tokenizer_split("   ", backend()).words == []
