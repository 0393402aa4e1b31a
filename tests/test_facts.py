"""The typed data facts each task kind's codec reads (`kerasdl_edge.facts`)."""

from __future__ import annotations

import pytest

from kerasdl_edge.codecs import TASKS, codec_class, codec_for
from kerasdl_edge.errors import EdgeError
from kerasdl_edge.facts import AudioFacts, ImageFacts, SeriesFacts, parse_facts


def test_facts_are_parsed_typed_and_other_entries_ignored() -> None:
    facts = parse_facts(ImageFacts, {"class_names": ["a", 2], "image_shape": [8, 8, 1], "input_channels": 3,
                                     "source": "folder:x", "sizes": {"train": 3}})
    assert facts.class_names == ("a", "2") and facts.image_shape == (8, 8, 1) and facts.channels_in == 3
    audio = parse_facts(AudioFacts, {"class_names": ["no"], "sample_rate": "8000", "clip_samples": 8000})
    assert audio.sample_rate == 8000 and audio.waveform is None


@pytest.mark.parametrize("info, message", [
    ({"image_shape": [8, 8, 1]}, "no 'class_names', which image models need"),
    ({"class_names": ["a"], "image_shape": [8, 8]}, "image_shape=[8, 8], which is not a tuple"),
    ({"class_names": ["a"], "image_shape": "big"}, "image_shape='big'"),
    ([1, 2], "not a JSON object"),
])
def test_a_missing_or_malformed_entry_is_one_clear_error(info, message) -> None:
    with pytest.raises(EdgeError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_facts(ImageFacts, info)


def test_every_task_kind_has_facts_and_a_codec_reads_them_when_it_needs_them() -> None:
    for task in TASKS:
        assert codec_class(task).facts_class.__module__ == "kerasdl_edge.facts", task
    # A serving client's codec has no data info (the server holds it) and never parses it.
    assert codec_for("forecasting", {}).serving_instances.__name__
    with pytest.raises(EdgeError, match="no 'columns', which series models need"):
        codec_for("forecasting", {}).read(["window.csv"])
    assert parse_facts(SeriesFacts, {"columns": ["a"], "targets": ["a"], "input_length": 4, "horizon": 1,
                                     "scaler": {"mean": [0], "std": [1]}}).time_column is None
