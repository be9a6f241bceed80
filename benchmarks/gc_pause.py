"""How long a full garbage collection stalls the app's threads, with and without `gc.freeze()`.

    python benchmarks/gc_pause.py [--model fer2013_vgg32.keras] [--repeats 20]

A full collection walks every tracked object while holding the GIL, so the live video's callback waits
for it. This loads what a server process holds once a page has run (Streamlit, streamlit-webrtc, the
recognizer with its model), then prints the tracked objects and the median and worst pause of
`gc.collect()`, before and after `gc.freeze()` moves them out of the collector's sight. The app freezes
(streamlit_app.py) only where this shows a pause worth removing: a frame at 30 fps has 33 ms.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time

import numpy as np


def pauses(repeats: int) -> tuple[float, float]:
    """Median and largest full-collection time, in ms."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        gc.collect()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a model file name in models/ (default: the Photos page's model)")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    import streamlit  # noqa: F401 - what every server process holds
    import streamlit_webrtc  # noqa: F401

    from fer.classifier import default_model_path, models_dir
    from fer.recognizer import EmotionRecognizer

    recognizer = EmotionRecognizer(models_dir() / args.model if args.model else default_model_path("photos"))
    recognizer.analyze(np.zeros((240, 320, 3), np.uint8))
    for state in ("not frozen", "frozen"):
        if state == "frozen":
            gc.collect()
            gc.freeze()
        median, worst = pauses(args.repeats)
        print(f"{recognizer.classifier.path.name}, {state}: {len(gc.get_objects()):,} objects for the collector "
              f"to walk, full collection median {median:.1f} ms, worst {worst:.1f} ms", flush=True)


if __name__ == "__main__":
    main()
