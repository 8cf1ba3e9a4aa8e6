"""Write the bundled sample account: ``data/sample_posts.csv`` and ``data/sample_truth.json``.

Usage::

    python -m uv run python scripts/make_sample_data.py [--out DIR]

The files depend only on the fixed seed (``amplify.data.sample.SAMPLE_SEED`` = 20261121) and the
simulator (``amplify.simulate.World``), so running this twice gives identical bytes. See
``data/README.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from amplify.data.sample import SAMPLE_SEED, write_sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="folder (default: the repo's data/)")
    args = parser.parse_args()
    csv_path, json_path = write_sample(args.out)
    posts = pd.read_csv(csv_path)
    boosted = posts["spend"] > 0
    size_kb = csv_path.stat().st_size / 1024
    print(f"seed {SAMPLE_SEED}: wrote {csv_path} ({size_kb:.0f} KB) and {json_path}")
    print(
        f"{len(posts)} posts, {int(boosted.sum())} boosted ({boosted.mean():.0%}); "
        + ", ".join(f"{p} {n}" for p, n in posts["platform"].value_counts().sort_index().items())
    )


if __name__ == "__main__":
    main()
