"""Adversarial training measured (issue 34): clean training against FGSM and PGD
adversarial training, 3 seeds each, every run then attacked by FGSM and PGD of the same
budget (`kerasdl evaluate --epsilon`), beside the pixel baseline of the same runs.

Data: the first 10,000 Fashion-MNIST training images (9,000 train / 1,000 validation) and
the full 10,000-image test split, as the comparison studies use; the default CNN; ε = 0.1
(pixels in [0, 1]: the budget usually used for Fashion-MNIST and MNIST, where 8/255 is too
small to matter). `--dataset cifar10` runs the same on 10,000 CIFAR-10 training images
with `fastcnn` and ε = 8/255.

    python bench/adversarial.py [--epochs 8] [--seeds 0,1,2] [--dataset fashion_mnist|cifar10]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common import REPO, SHARED_DATA, markdown_table, mean_std, require, train_in_child, write_result  # noqa: E402

WORK = REPO / "bench" / "runs" / "adversarial"
ARMS = {"clean": (), "fgsm": ("--adversarial", "fgsm"), "pgd": ("--adversarial", "pgd")}


def fashion_mnist_10k() -> Path:
    sys.path.insert(0, str(Path(__file__).parent))
    from compare import fashion_mnist_10k as subset

    return Path(subset())


def cifar10_10k() -> Path:
    """1,000 training images per class of CIFAR-10 (links) and the full test split."""
    from transfer import extract_cifar

    root = extract_cifar()
    target = WORK / "data" / "cifar10_10k"
    if not (target / "test").is_dir():
        for split, count in (("train", 1000), ("test", None)):
            for folder in sorted((root / split).iterdir()):
                out = target / split / folder.name
                out.mkdir(parents=True, exist_ok=True)
                for path in sorted(folder.iterdir())[:count]:
                    (out / path.name).symlink_to(path)
    return target


def evaluate_under_attack(run: Path, epsilon: float, steps: int) -> dict:
    command = ["kerasdl", "evaluate", str(run), "--epsilon", str(epsilon), "--attack-steps", str(steps), "--json"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout[done.stdout.index("{"):])["robustness"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=("fashion_mnist", "cifar10"), default="fashion_mnist")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--train-steps", type=int, default=5, help="PGD steps of adversarial training.")
    parser.add_argument("--attack-steps", type=int, default=10, help="PGD steps of the evaluation's attack.")
    args = parser.parse_args()
    if args.dataset == "fashion_mnist":
        require(SHARED_DATA / "fashion_mnist")
        data, epsilon, model = fashion_mnist_10k(), 0.1, ("--preset", "fashion-mnist", "--model", "cnn")
    else:
        require(SHARED_DATA / "cifar10" / "cifar10_jpg.tar.gz")
        data, epsilon, model = cifar10_10k(), 8 / 255, ("--model", "fastcnn")
    runs = WORK / args.dataset
    rows, scores = [], {arm: {"clean": [], "fgsm": [], "pgd": [], "minutes": []} for arm in ARMS}
    for arm, options in ARMS.items():
        for seed in [int(s) for s in args.seeds.split(",")]:
            name = f"{arm}-seed{seed}"
            started = time.perf_counter()
            metrics = train_in_child("vision", runs, data, name, *model, "--epochs", str(args.epochs), "--seed",
                                     str(seed), "--epsilon", str(epsilon), "--set",
                                     f"adversarial_steps={args.train_steps}", *options)
            minutes = metrics.get("wall_seconds", time.perf_counter() - started) / 60
            robust = evaluate_under_attack(runs / "vision" / name, epsilon, args.attack_steps)
            for key in ("clean", "fgsm", "pgd"):
                scores[arm][key].append(robust[f"{key}_accuracy"])
            scores[arm]["minutes"].append(minutes)
            baseline = next((b for b in metrics.get("baselines", []) if b.get("test")), None)
            print(arm, seed, robust, f"{minutes:.1f} min", flush=True)
    for arm in ARMS:
        s = scores[arm]
        rows.append((arm if arm == "clean" else f"{arm} adversarial training", mean_std(s["clean"]),
                     mean_std(s["fgsm"]), mean_std(s["pgd"]), f"{statistics.mean(s['minutes']):.1f}"))
    pixels = f"{100 * baseline['test']['accuracy']:.2f} %" if baseline else "n/a"
    table = markdown_table(("training", "clean test accuracy %", "under FGSM %", f"under PGD-{args.attack_steps} %",
                            "wall minutes per run"), rows)
    notes = (f"{args.dataset}: 9,000 training / 1,000 validation images, the full test split; {args.epochs} epochs, "
             f"seeds {args.seeds}; ε = {epsilon:.4g} ({epsilon * 255:.1f}/255) for training and attack; PGD training "
             f"{args.train_steps} steps, attack {args.attack_steps} steps from a random start, step 2.5ε/steps; "
             f"adversarial loss weight 0.5. Pixel baseline (ridge on pixels, same runs): {pixels} clean.")
    write_result(f"adversarial-{args.dataset}", "Adversarial training: clean against robust accuracy", table,
                 f"python bench/adversarial.py --dataset {args.dataset} --epochs {args.epochs} --seeds {args.seeds} "
                 f"--train-steps {args.train_steps} --attack-steps {args.attack_steps}", notes)


if __name__ == "__main__":
    main()
