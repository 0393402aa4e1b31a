"""Text sources and the two tokenizers (TextVectorization and its TF-free twin)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import chinese_review_texts, review_texts, write_review_csv, write_review_folder
from kerasdl.data import tfds_source
from kerasdl.data.text import load_text_datasets
from kerasdl.data.tokenizer import (
    NORMALIZE,
    SPLIT,
    STANDARDIZE,
    TokenizerSpec,
    choose_tokenization,
    document_counts,
    fit_tokenizer,
    inverse_document_frequency,
    naive_bayes_ratios,
    tokenizer_function,
)
from kerasdl.errors import ConfigError, DataError
from kerasdl_edge.text import Tokenizer


def pairs(ds) -> list[tuple[str, int]]:
    return [(t.decode("utf-8"), int(y)) for t, y in ds.as_numpy_iterator()]


def test_csv_columns_found_by_name_and_split(review_csv: Path) -> None:
    data = load_text_datasets(str(review_csv), sample_dir=".", validation_split=0.25)
    assert data.class_names == ["neg", "pos"]
    assert data.sizes == {"train": 180, "validation": 60, "test": 0}
    assert data.test is None
    text, label = pairs(data.train)[0]
    assert isinstance(text, str) and label in (0, 1)


def test_tsv_gz_with_named_columns(tmp_path: Path) -> None:
    path = write_review_csv(tmp_path / "r.tsv.gz", 40, delimiter="\t", columns=("Review Body", "Stars"))
    with pytest.raises(DataError, match="no text column found among Review Body, Stars; name it with `text_column=NAME`"):
        load_text_datasets(str(path), sample_dir=".")
    data = load_text_datasets(str(path), sample_dir=".", text_column="review body", label_column="stars")
    assert data.sizes["train"] + data.sizes["validation"] == 40


def test_class_folders_in_acl_imdb_layout(tmp_path: Path) -> None:
    root = write_review_folder(tmp_path / "aclImdb")
    (root / "train" / "unsup").mkdir()
    (root / "train" / "unsup" / "0_0.txt").write_text("unlabelled")
    data = load_text_datasets(str(root), sample_dir=".")
    assert data.class_names == ["neg", "pos"]
    assert data.sizes["test"] == 40 and data.sizes["train"] + data.sizes["validation"] == 120
    texts, labels = review_texts(40, seed=1)
    got = sorted(pairs(data.test))
    assert got == sorted((t, ["neg", "pos"].index(l)) for t, l in zip(texts, labels))


def _one_file_per_class(root: Path, lines: int, *, seed: int = 0) -> Path:
    """The layout of several sentence-polarity data sets: one file per class, one
    example per line."""
    for label in ("neg", "pos"):
        texts, labels = review_texts(2 * lines, seed=seed)
        (root / label).mkdir(parents=True, exist_ok=True)
        (root / label / f"{label}.txt").write_text(
            "\n".join(t for t, l in zip(texts, labels) if l == label) + "\n")
    return root


def test_one_file_per_class_is_read_line_by_line_when_asked(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from kerasdl.cli import cli

    root = _one_file_per_class(tmp_path / "polarity", 60)
    with pytest.raises(DataError, match="2 .txt files for 2 classes, each of 60 lines or more: that "
                                        "is one example per line.*`text_per_line=true`"):
        load_text_datasets(str(root), sample_dir=".")
    data = load_text_datasets(str(root), sample_dir=".", text_per_line=True, validation_split=0.2)
    assert data.sizes == {"train": 96, "validation": 24, "test": 0}
    assert all("\n" not in text for text, _ in pairs(data.train))
    result = CliRunner().invoke(cli, ["train", "sentiment", "--dataset", str(root), "--preset", "tiny",
                                      "--set", "text_per_line=true", "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    assert "on 12 examples" in result.output  # the validation split stands in for the missing test split


def test_splits_too_small_to_mean_anything_are_refused(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from kerasdl.cli import cli

    root = tmp_path / "tiny"
    for split, label, text in (("train", "pos", "good"), ("train", "neg", "bad"),
                               ("test", "pos", "great")):
        (root / split / label).mkdir(parents=True, exist_ok=True)
        (root / split / label / "0.txt").write_text(text)
    result = CliRunner().invoke(cli, ["train", "sentiment", "--dataset", str(root), "--preset", "tiny",
                                      "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: The training split has 1 example, too few to learn 2 classes from (at least 4)."]
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("best.keras"))
    csv = write_review_csv(tmp_path / "reviews.csv", 100)
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "train.csv").write_bytes(csv.read_bytes())
    (tmp_path / "folder" / "test.csv").write_text("text,label\ngreat,pos\nawful,neg\n")
    result = CliRunner().invoke(cli, ["train", "sentiment", "--dataset", str(tmp_path / "folder"),
                                      "--preset", "tiny", "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 1
    assert result.output.strip() == ("Error: The test split has 2 examples: a metric on fewer than 10 "
                                     "means nothing (one example scores 0 % or 100 %). Add data to it, "
                                     "or raise validation_split.")


def test_table_folder_and_numeric_labels(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text("text,label\n" + "".join(f"t{i} a,{i % 3}\n" for i in range(30)))
    (tmp_path / "test.csv").write_text("text,label\nx,2\ny,10\n")
    with pytest.raises(DataError, match=r"The test split has labels \['10'\] that the training split lacks"):
        load_text_datasets(str(tmp_path), sample_dir=".")
    (tmp_path / "test.csv").write_text("text,label\nx,2\ny,0\n")
    data = load_text_datasets(str(tmp_path), sample_dir=".")
    assert data.class_names == ["0", "1", "2"] and data.sizes["test"] == 2


@pytest.mark.parametrize("content, message", [
    ("", "is empty; expected a header row"),
    ("text,label\n", "has a header but no rows"),
    ("text,label\nonly one,pos\nagain,pos\n", "has only one class ('pos')"),
    ("text,label\nhello,pos\nx,,\n", "line 3: 3 fields but the header has 2"),
    ("text,label\nhello,\n", "line 2: the label column 'label' is empty"),
])
def test_bad_tables(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_text_datasets(str(path), sample_dir=".")


def test_bad_sources(tmp_path: Path) -> None:
    (tmp_path / "notes.json").write_text("{}")
    with pytest.raises(DataError, match="is not a CSV or TSV file"):
        load_text_datasets(str(tmp_path / "notes.json"), sample_dir=".")
    (tmp_path / "corrupt.csv.gz").write_bytes(b"not gzip")
    with pytest.raises(DataError, match="Cannot read .*corrupt.csv.gz"):
        load_text_datasets(str(tmp_path / "corrupt.csv.gz"), sample_dir=".")
    (tmp_path / "latin1.csv").write_bytes("text,label\ncaf\xe9,a\n".encode("latin-1"))
    with pytest.raises(DataError, match="is not UTF-8 text"):
        load_text_datasets(str(tmp_path / "latin1.csv"), sample_dir=".")
    (tmp_path / "empty" / "pos").mkdir(parents=True)
    with pytest.raises(DataError, match="Class folder .*pos holds no .txt files"):
        load_text_datasets(str(tmp_path / "empty"), sample_dir=".")
    (tmp_path / "none").mkdir()
    with pytest.raises(DataError, match="No class sub-folders under"):
        load_text_datasets(str(tmp_path / "none"), sample_dir=".")
    with pytest.raises(DataError, match="No such file or folder"):
        load_text_datasets("./missing.csv", sample_dir=".")


def test_tfds_code_path_with_mock_data(monkeypatch: pytest.MonkeyPatch) -> None:
    import tensorflow_datasets as tfds

    monkeypatch.setattr(tfds_source, "internet_available", lambda timeout=3.0: True)
    with tfds.testing.mock_data(num_examples=12):
        data = load_text_datasets("imdb_reviews", sample_dir=".")
        text, label = next(iter(data.train))
    assert data.class_names == ["neg", "pos"]
    assert data.source == "tfds:imdb_reviews"
    assert text.dtype.name == "string" and int(label) in (0, 1)


def test_tfds_without_network_fails_fast(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(tfds_source, "internet_available", lambda timeout=3.0: False)
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match="cannot reach the internet"):
        load_text_datasets("tfds:imdb_reviews", sample_dir=".")


# ---- the tokenizer and its TensorFlow-free twin -------------------------------------------

VARIED = [
    "",
    "   ",
    "Hello, World! HELLO world?!",
    "It's a 10/10 movie -- must-see; (really) [truly] {wow} #1 @home $5 50% a&b ~x^ `q` |p| \\s\\",
    "ÉCOLE École école — naïve café Straße İstanbul ΑΒΓ αβγ ДОМ дом",
    "日本語のテキスト 中文 한국어 emoji 😀👍🏽 mixed😀words",
    "tabs\tand\nnewlines\r\nand\x0bvertical\x0cfeed",
    "non\u00a0breaking\u2003em space\u3000ideographic",
    "zero\u200bwidth and combining e\u0301 and ﬁ ligature",
    "“smart quotes” ‘single’ «guillemets» ¡hola! ¿qué?",
    "good " * 3000 + "bad",
    "[UNK] [unk] unk",
    "a",
    # Text without spaces, full-width forms and mixed scripts (issue 23).
    "这部电影很好看！强烈推荐。剧情紧凑，演员演技在线",
    "质量太差了，用了两天就坏了，后悔买了。。。",
    "《三体》【推荐】「好书」『经典』——值得一读～",
    "ＡＢＣ，ｄｅｆ！１２３　全角空格　ＦＵＬＬ　ｗｉｄｔｈ",
    "カタカナとひらがなの文章です。ｶﾀｶﾅ半角も。",
    "ภาษาไทยเขียนติดกันไม่มีช่องว่างระหว่างคำ",
    "ພາສາລາວ ភាសាខ្មែរ မြန်မာဘာသာ",
    "Mixed 中文 and English：iPhone很好用，5G信号一般 😀👍",
    "ΟΔΟΣ ΚΑΙ ΣΑ İstanbul ǅemal Ⱟ ꟀA 𐕰",
    "𠀀𠀁 CJK extension B 㐀 compatibility 豈 radicals ⺀ ⼀",
]


@pytest.mark.parametrize("standardize", STANDARDIZE)
@pytest.mark.parametrize("ngrams, binary, order", [(1, False, "position"), (3, False, "position"),
                                                   (2, True, "position"), (3, False, "length"),
                                                   (2, True, "length")])
def test_edge_tokenizer_reproduces_text_vectorization(standardize: str, ngrams: int, binary: bool,
                                                      order: str) -> None:
    import dataclasses

    import tensorflow as tf

    corpus = VARIED + review_texts(50)[0]
    spec = fit_tokenizer(tf.data.Dataset.from_tensor_slices(corpus), max_tokens=400,
                         ngrams=ngrams, sequence_length=64, standardize=standardize, binary=binary)
    spec = dataclasses.replace(spec, ngram_order=order)
    expected = tokenizer_function(spec)[0](tf.constant(corpus)).numpy()
    edge = Tokenizer.from_spec(spec.to_dict())
    got = edge(corpus)
    assert got.dtype == np.int32 and got.shape == expected.shape
    for text, want, have in zip(corpus, expected, got):
        assert have.tolist() == want.tolist(), repr(text[:80])
    assert (expected > 1).sum() > 100  # most tokens are known: the test compares lookups
    long = VARIED[-3]
    assert got[VARIED.index(long)].tolist() == expected[VARIED.index(long)].tolist()


@pytest.mark.parametrize("split", SPLIT)
@pytest.mark.parametrize("normalize", NORMALIZE)
@pytest.mark.parametrize("standardize", ["lower_and_strip_punctuation", "split_punctuation", "none"])
def test_edge_tokenizer_reproduces_every_split_and_normalization(split: str, normalize: str,
                                                                 standardize: str) -> None:
    """Characters, scripts without spaces, full-width forms, Unicode case and
    punctuation: the phone's ids are training's ids."""
    import tensorflow as tf

    corpus = VARIED + review_texts(20)[0] + chinese_review_texts(40)[0]
    spec = fit_tokenizer(tf.data.Dataset.from_tensor_slices(corpus), max_tokens=3000, ngrams=2,
                         sequence_length=48, standardize=standardize, split=split, normalize=normalize)
    expected = tokenizer_function(spec)[0](tf.constant(corpus)).numpy()
    got = Tokenizer.from_spec(spec.to_dict())(corpus)
    for text, want, have in zip(corpus, expected, got):
        assert have.tolist() == want.tolist(), repr(text[:80])
    assert (expected > 1).sum() > 300


def test_unicode_lower_casing_matches_tensorflow_for_every_code_point() -> None:
    import tensorflow as tf

    from kerasdl_edge.text import _unicode_lower

    characters = [chr(c) for c in range(0x20, 0x32000) if not 0xD800 <= c <= 0xDFFF]
    lowered = tf.strings.lower(tf.constant(characters), encoding="utf-8").numpy()
    differ = [hex(ord(c)) for c, low in zip(characters, lowered) if _unicode_lower(c) != low.decode()]
    assert differ == []
    assert _unicode_lower("ΟΔΟΣ ΚΑΙ") == tf.strings.lower("ΟΔΟΣ ΚΑΙ", encoding="utf-8").numpy().decode()


def test_script_split_keeps_words_and_cuts_unspaced_scripts_into_characters() -> None:
    spec = TokenizerSpec(vocabulary=["", "[UNK]"], split="script", normalize="unicode")
    tokens = [t.decode() for t in Tokenizer.from_spec(spec.to_dict()).tokens("iPhone很好用，ＯＫ！5G 信号")]
    assert tokens == ["iphone", "很", "好", "用", "ok5g", "信", "号"]  # stripped "！" joins, as in Keras
    characters = TokenizerSpec(vocabulary=["", "[UNK]"], split="characters", normalize="ascii",
                               standardize="none")
    assert Tokenizer.from_spec(characters.to_dict()).tokens("ab 好！") == [b"a", b"b", "好".encode(), "！".encode()]


def test_tokenization_is_chosen_from_the_training_texts() -> None:
    chinese = choose_tokenization(chinese_review_texts(50)[0])
    assert (chinese.split, chinese.normalize) == ("script", "unicode")
    assert "without spaces" in chinese.reason
    english = choose_tokenization(review_texts(50)[0])
    assert (english.split, english.normalize) == ("whitespace", "ascii")
    french = choose_tokenization(["Très émouvant, une réalisation élégante à côté de l'été"] * 5)
    assert (french.split, french.normalize) == ("whitespace", "unicode")
    thai = choose_tokenization(["ภาษาไทยเขียนติดกันไม่มีช่องว่าง"])
    assert thai.split == "script"
    mostly_english = choose_tokenization(["A long English review of a good film, " * 5 + "好"])
    assert mostly_english.split == "whitespace"
    kept = choose_tokenization(chinese_review_texts(5)[0], split="characters", normalize="ascii")
    assert (kept.split, kept.normalize) == ("characters", "ascii") and "as configured" in kept.reason
    with pytest.raises(ConfigError, match="split"):
        choose_tokenization(["x"], split="words")


def test_specs_written_before_split_existed_read_as_whitespace_ascii() -> None:
    old = {"standardize": "lower", "ngrams": 1, "sequence_length": 4, "vocabulary": ["", "[UNK]", "a"],
           "binary": False, "split": "whitespace", "pad_id": 0, "oov_id": 1}
    del old["split"]
    spec = TokenizerSpec.from_dict(old)
    assert (spec.split, spec.normalize) == ("whitespace", "ascii")
    assert Tokenizer.from_spec(old).tokens("Ａ a") == ["Ａ".encode(), b"a"]


def test_ngrams_follow_the_word_they_start_at_so_a_cut_keeps_them() -> None:
    """Issue 30: TextVectorization puts every bigram after every word, so a long review
    cut to `sequence_length` kept no bigram at all; a bigram now survives the cut exactly
    when its words do, whatever the text's length."""
    import tensorflow as tf

    vocabulary = ["", "[UNK]", "not", "good", "not good", "filler", "filler filler"]
    long = "not good " + "filler " * 500
    spec = TokenizerSpec(vocabulary=vocabulary, ngrams=2, sequence_length=8)
    for ids in (tokenizer_function(spec)[0](tf.constant([long])).numpy()[0],
                Tokenizer.from_spec(spec.to_dict())([long])[0]):
        assert ids.tolist()[:6] == [2, 4, 3, 1, 5, 6]  # not, "not good", good, "good filler" (OOV), ...
    old = TokenizerSpec.from_dict({k: v for k, v in spec.to_dict().items() if k != "ngram_order"})
    assert old.ngram_order == "length"  # runs and exports written before read as they were
    assert 4 not in tokenizer_function(old)[0](tf.constant([long])).numpy()[0].tolist()
    assert 4 not in Tokenizer.from_spec({k: v for k, v in spec.to_dict().items() if k != "ngram_order"})([long])[0]


def test_the_texts_a_sequence_cut_shortens_are_counted() -> None:
    import tensorflow as tf

    from kerasdl.apps.sentiment.preprocessing import count_cut_texts

    spec = TokenizerSpec(vocabulary=["", "[UNK]", "a", "a a"], ngrams=2, sequence_length=5)
    texts = tf.data.Dataset.from_tensor_slices(["a a a", "a a a a", "", "b b b b b b"])
    # "a a a" holds 3 words + 2 bigrams = 5 ids (not cut); "a a a a" 7; unknown words count too.
    assert count_cut_texts(texts, spec) == (2, 4)
    binary = TokenizerSpec(vocabulary=["", "[UNK]", "a", "a a"], ngrams=2, sequence_length=2, binary=True)
    # Distinct ids: {a, "a a"} for the first two, {[UNK]} for the last: none is cut.
    assert count_cut_texts(texts, binary) == (0, 4)


def test_unseen_words_map_to_oov_and_padding_to_zero() -> None:
    spec = TokenizerSpec(vocabulary=["", "[UNK]", "good", "movie"], sequence_length=5)
    assert Tokenizer.from_spec(spec.to_dict())(["A GOOD zebra movie!"]).tolist() == [[1, 2, 1, 3, 0]]


def test_binary_keeps_first_occurrences_before_the_cut() -> None:
    import tensorflow as tf

    spec = TokenizerSpec(vocabulary=["", "[UNK]", "good", "movie", "bad"], sequence_length=3,
                         binary=True)
    text = "good good zebra movie good lion bad"
    assert Tokenizer.from_spec(spec.to_dict())([text]).tolist() == [[2, 1, 3]]
    assert tokenizer_function(spec)[0](tf.constant([text, ""])).numpy().tolist() == [[2, 1, 3], [0, 0, 0]]


def test_document_statistics() -> None:
    import tensorflow as tf

    ids = np.array([[2, 3, 0], [2, 0, 0], [2, 4, 4]], np.int32)
    labels = np.array([1, 0, 0], np.int32)
    counts, documents = document_counts(
        tf.data.Dataset.from_tensor_slices((ids, labels)).batch(2), 5, 2)
    assert documents.tolist() == [2, 1]
    assert counts[2].tolist() == [2, 1] and counts[4].tolist() == [1, 0]  # once per document
    idf = inverse_document_frequency(counts, documents)
    assert idf[0] == 0.0
    assert idf[2] < idf[3] == idf[4]
    np.testing.assert_allclose(idf[2], np.log1p(3 / 4))
    ratios = naive_bayes_ratios(counts)
    assert ratios.shape == (5, 2) and not ratios[0].any()
    assert ratios[3, 1] > 0 > ratios[3, 0]  # token 3 is only in the class-1 document
    assert ratios[4, 0] > 0 > ratios[4, 1]
