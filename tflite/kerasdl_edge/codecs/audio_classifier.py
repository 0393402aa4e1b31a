"""Audio classification: WAV files in, class probabilities out; long recordings scanned
for events (spoken commands)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from kerasdl_edge.audio import AudioError, pcm16_to_waveform, read_wav, to_pcm16
from kerasdl_edge.codecs.base import ClassifierCodec, Model, Streaming, file_instances
from kerasdl_edge.errors import EdgeError
from kerasdl_edge.facts import AudioFacts


class AudioClassifierCodec(ClassifierCodec, Streaming):
    """Reads WAV files at any rate, length and channel count (`kerasdl_edge.audio`),
    as int16 PCM clips of the model's length, or as float32 waveforms of the same
    samples for a task-ready export (info `waveform: float32`)."""

    task = "audio_classification"
    facts_class = AudioFacts

    def read(self, inputs: Sequence[Any]) -> np.ndarray:
        try:
            pcm = to_pcm16(np.stack([read_wav(i, sample_rate=self.facts.sample_rate,
                                              length=self.facts.clip_samples) for i in inputs]))
        except AudioError as e:
            raise EdgeError(str(e)) from None
        return self._model_input(pcm)

    def _model_input(self, pcm: np.ndarray) -> np.ndarray:
        return pcm16_to_waveform(pcm) if self.facts.waveform == "float32" else pcm

    def stream(self, model: Model, path: str, **options: Any) -> list[dict[str, Any]]:
        """The commands heard along the recording at `path`, with their times
        (`options`: `kerasdl_edge.streaming.detect_commands`'s hop_seconds, smoothing,
        threshold)."""
        from kerasdl_edge.streaming import detect_commands

        try:
            samples = read_wav(path, sample_rate=self.facts.sample_rate)
        except AudioError as e:
            raise EdgeError(str(e)) from None
        found = detect_commands(lambda pcm: np.asarray(model(self._model_input(pcm))), samples,
                                sample_rate=self.facts.sample_rate,
                                window=self.facts.clip_samples, class_names=self.facts.class_names,
                                **options)
        return [{"input": path, "time": d.time, "label": d.label, "score": d.score} for d in found]

    def format(self, row: dict[str, Any]) -> str:
        if "time" in row:
            return f"{row['input']} {row['time']:8.2f} s  {row['label']} ({row['score']:.3f})"
        return super().format(row)

    def serving_instances(self, inputs: Sequence[str]) -> list[Any]:
        """WAV files' bytes, for `serving_default`'s `wav_bytes`."""
        return file_instances(inputs)
