"""Rebuild what the browser engine serves: `python app_pages/browser_live/build.py [--output DIR]`.

1. `npm ci` and `npm run build` in frontend/: the engine bundle (static/engine.js) and the WebAssembly
   runtimes it loads (static/runtime/), from the versions package-lock.json pins.
2. static/fonts/label.ttf: the font fer.drawing labels faces in (fer.label_font), so both engines draw alike.
3. static/detector/yunet_WxH.tflite: the project's YuNet (fer/weights/) rebuilt for LiteRT, one file per input
   size the engine detects at (yunet_litert.py), so one WebAssembly runtime runs both networks.
The browser's copies of the emotion models are written by `training.export_litert --batch-size 1`
(models/README.md). Needs node and npm, and TensorFlow and `onnx` (requirements-dev.txt).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if __name__ == "__main__":  # run as a script: fer/ is beside app_pages/
    sys.path.insert(0, str(HERE.parents[1]))
FRONTEND = HERE / "frontend"
STATIC = HERE / "static"
YUNET = HERE.parents[1] / "fer" / "weights" / "yunet_s_640_640.onnx"
LABEL_FONT_FILE = "fonts/label.ttf"  # under static/; the engine is told where (app_pages.browser_live)


def install_packages(npm: str) -> None:
    """frontend/node_modules as package-lock.json pins it (the build's tools, and the tests' type checker,
    linter and Firefox driver)."""
    subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel", "error"], cwd=FRONTEND, check=True, timeout=600)


def packages_installed(*names: str) -> bool:
    return all((FRONTEND / "node_modules" / name).is_dir() for name in names)


def write_label_font(output: Path) -> None:
    from fer.label_font import font_bytes

    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(font_bytes())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=STATIC,
                        help="build here instead of static/ (the tests compare such a build with static/)")
    args = parser.parse_args(argv)
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        print("error: node and npm are needed to rebuild (the committed static/ is what the app serves)",
              file=sys.stderr)
        return 2
    output = args.output.resolve()
    install_packages(npm)
    subprocess.run([node, "build.mjs", str(output)], cwd=FRONTEND, check=True)
    from app_pages.browser_live.yunet_litert import write_detector_files

    write_detector_files(YUNET, output)
    write_label_font(output / LABEL_FONT_FILE)
    print(f"built {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
