"""Rows for ``make run`` to score: breast-cancer measurements with an ``id`` column, as a CSV."""

from __future__ import annotations

import sys


def main(path: str) -> None:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame.drop(columns=["target"])
    frame.insert(0, "id", range(1, len(frame) + 1))
    frame.to_csv(path, index=False)
    print(f"wrote {len(frame)} rows to score into {path}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "demo-rows.csv")
