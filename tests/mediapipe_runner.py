"""Runs .tflite files in MediaPipe Tasks and prints their scores as JSON.

A script for a Python that has MediaPipe (and no TensorFlow): tests/test_mediapipe.py
and bench/mobile.py run it there. Its argument is a JSON file holding a list of jobs,
{"model": PATH, "task": ImageClassifier|AudioClassifier|TextClassifier, "inputs": ...}:
for images a .npy file of uint8 RGB frames [n, height, width, 3], for audio a .npy
file of float32 clips [n, samples] with "sample_rate", for text a list of strings.
It prints one line: per job, per input, {label: score}.
"""

import json
import sys

import numpy as np
from mediapipe.tasks.python.core.base_options import BaseOptions


def scores(categories) -> dict:
    return {c.category_name: float(c.score) for c in categories}


def run(job: dict) -> list:
    options = BaseOptions(model_asset_path=job["model"])
    if job["task"] == "ImageClassifier":
        import mediapipe as mp
        from mediapipe.tasks.python import vision

        task = vision.ImageClassifier.create_from_options(vision.ImageClassifierOptions(base_options=options))
        rows = [scores(task.classify(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(frame)))
                       .classifications[0].categories) for frame in np.load(job["inputs"])]
    elif job["task"] == "AudioClassifier":
        from mediapipe.tasks.python import audio
        from mediapipe.tasks.python.components.containers import audio_data

        task = audio.AudioClassifier.create_from_options(audio.AudioClassifierOptions(base_options=options))
        rows = []
        for clip in np.load(job["inputs"]):
            data = audio_data.AudioData.create_from_array(np.asarray(clip, np.float32), job["sample_rate"])
            rows.append(scores(task.classify(data)[0].classifications[0].categories))
    elif job["task"] == "TextClassifier":
        from mediapipe.tasks.python import text

        task = text.TextClassifier.create_from_options(text.TextClassifierOptions(base_options=options))
        rows = [scores(task.classify(t).classifications[0].categories) for t in job["inputs"]]
    else:
        raise SystemExit(f"unknown task {job['task']!r}")
    task.close()
    return rows


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        print(json.dumps([run(job) for job in json.load(f)]))
