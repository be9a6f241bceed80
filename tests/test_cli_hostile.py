"""The CLI on hostile input: one line on stderr naming the problem, the good files still processed, the
right exit status, and nothing overwritten. Each case runs the real command in a subprocess."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fer.classifier import LIVE_MODEL, MODELS_DIR
from fer.model_file import METADATA_MEMBER
from tests.conftest import FER2013_MODEL, ROOT, write_image


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fer", *args], cwd=ROOT, capture_output=True, timeout=300)


def stderr_lines(out: subprocess.CompletedProcess) -> list[str]:
    text = out.stderr.decode(errors="replace")
    assert "Traceback" not in text, text
    return [line for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def photos(tmp_path_factory, face_photo) -> Path:
    root = tmp_path_factory.mktemp("photos")
    write_image(root / "a" / "photo.jpg", face_photo)
    write_image(root / "b" / "photo.jpg", face_photo[:, ::-1].copy())
    return root


def test_an_unreadable_file_is_skipped_and_the_rest_processed(photos, tmp_path):
    if not Path("/proc/self/mem").exists():
        pytest.skip("needs Linux's /proc/self/mem, a file that exists but cannot be read (even as root)")
    unreadable = tmp_path / "unreadable.jpg"
    unreadable.symlink_to("/proc/self/mem")
    out = run_cli("predict", str(unreadable), str(photos / "a" / "photo.jpg"))
    assert out.returncode == 1
    assert [line for line in stderr_lines(out) if "unreadable.jpg" in line] == [
        f"skipped {unreadable}: cannot read the file (Input/output error)"]
    assert [json.loads(line)["path"] for line in out.stdout.decode().splitlines()] == [str(photos / "a/photo.jpg")]


@pytest.mark.parametrize(("args", "message"), [
    (["--output", "{tmp}/missing/out.jsonl"], "error: cannot write --output {tmp}/missing/out.jsonl: No such file"),
    (["--annotate", "{tmp}/a_file"], "error: --annotate {tmp}/a_file is a file, not a folder"),
    (["--output", "/dev/full"], "error: could not write the results"),
])
def test_outputs_that_cannot_be_written_stop_with_one_line(photos, tmp_path, args, message):
    (tmp_path / "a_file").write_text("x")
    out = run_cli("predict", str(photos), *[a.format(tmp=tmp_path) for a in args])
    assert out.returncode == 2
    lines = stderr_lines(out)
    assert len(lines) == 1 and lines[0].startswith(message.format(tmp=tmp_path)), lines
    if "/dev/full" in args:
        assert "No space left on device" in lines[0]


@pytest.mark.parametrize("target", ["missing.csv", "folder"])
def test_predict_csv_on_a_missing_file_or_a_folder(tmp_path, target):
    (tmp_path / "folder").mkdir()
    out = run_cli("predict-csv", str(tmp_path / target))
    assert out.returncode == 2
    lines = stderr_lines(out)
    assert len(lines) == 1 and lines[0].startswith(f"error: {tmp_path / target}: ")


def test_predict_csv_reports_bad_pixel_rows_by_line_and_classifies_the_rest(tmp_path):
    good = " ".join(str(v) for v in np.random.default_rng(1).integers(0, 256, 2304))
    rows = ["pixels", good, " ".join(["nan"] * 2304), " ".join(["300"] * 2304), " ".join(["12.5"] * 2304), good]
    (tmp_path / "faces.csv").write_text("\n".join(rows) + "\n")
    out = run_cli("predict-csv", str(tmp_path / "faces.csv"))
    assert out.returncode == 1
    assert [line.split(":")[0] for line in stderr_lines(out)] == [
        f"skipped {tmp_path / 'faces.csv'} row {n}" for n in (3, 4, 5)]
    assert [r["row"] for r in csv.DictReader(io.StringIO(out.stdout.decode()))] == ["2", "6"]


def test_a_huge_pixel_value_is_a_bad_row_and_the_good_rows_are_kept(tmp_path):
    good = " ".join(str(v) for v in np.random.default_rng(2).integers(0, 256, 2304))
    huge = " ".join(["99999999999999999999"] + ["1"] * 2303)
    (tmp_path / "faces.csv").write_text("\n".join(["pixels", good, huge, good, "-" + huge]) + "\n")
    out = run_cli("predict-csv", str(tmp_path / "faces.csv"), "--output", str(tmp_path / "out.csv"))
    assert out.returncode == 1
    assert [line.split(": ", 1)[1] for line in stderr_lines(out)] == [
        "pixel values must be within 0-255 (found 1 to 99999999999999999999)",
        "pixel values must be within 0-255 (found -9999999999999999... to 1)"]
    assert [r["row"] for r in csv.DictReader((tmp_path / "out.csv").open())] == ["2", "4"]


def keras_model_with_metadata(folder: Path, metadata: bytes) -> Path:
    """The shipped .keras model with its metadata member replaced."""
    source, target = MODELS_DIR / f"{FER2013_MODEL}.keras", folder / "model.keras"
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            new.writestr(item, metadata if item.filename == METADATA_MEMBER else old.read(item))
    return target


def tflite_model_with_metadata(folder: Path, change: dict | bytes) -> Path:
    """The shipped live .tflite model with some of its metadata fields changed (or all of it replaced),
    without its output correction, whose priors count the shipped classes: each case tests one lie."""
    from ai_edge_litert.tools import flatbuffer_utils

    from fer.model_file import TFLITE_METADATA_NAME

    model = flatbuffer_utils.read_model_from_bytearray(bytearray((MODELS_DIR / f"{LIVE_MODEL}.tflite").read_bytes()))
    entry = next(e for e in model.metadata if e.name == TFLITE_METADATA_NAME.encode())
    metadata = change if isinstance(change, bytes) else \
        json.dumps({**json.loads(bytes(model.buffers[entry.buffer].data)), "prior_correction": None, **change}).encode()
    model.buffers[entry.buffer].data = np.frombuffer(metadata, np.uint8)
    target = folder / "model.tflite"
    target.write_bytes(flatbuffer_utils.convert_object_to_bytearray(model))
    return target


KERAS_METADATA = {"name": "x", "class_names": list("ABCDEFG"), "image_size": [48, 48], "channels": 1}


@pytest.mark.parametrize(("metadata", "message"), [
    (b"{not json", "has damaged metadata"),
    ({"class_names": ["a", "b"]}, "gives 7 outputs but its metadata names 2 classes"),
    ({"class_names": "abcdefg"}, "class_names must be a list of non-empty names, not 'abcdefg'"),
    ({"class_names": ["a", "a", "b", "c", "d", "e", "f"]}, "class_names repeats a name"),
    ({"class_names": [1, 2, 3, 4, 5, 6, 7]}, "class_names must be a list of non-empty names"),
    ({"image_size": [0, 0]}, "image_size must be [height, width], each 8-1024 pixels, not [0, 0]"),
    ({"image_size": [100000, 100000]}, "image_size must be [height, width], each 8-1024 pixels"),
    ({"image_size": [48.5, 48]}, "image_size must be [height, width]"),
    ({"image_size": [96, 96]}, "its metadata says 96x96 pixels with 1 channel(s), but the network reads 48 x 48 x 1"),
    ({"channels": 3}, "its metadata says 48x48 pixels with 3 channel(s), but the network reads 48 x 48 x 1"),
    ({"channels": True}, "channels must be 1 (grayscale) or 3 (RGB)"),
], ids=lambda value: str(value)[:40])
@pytest.mark.parametrize("suffix", [".keras", ".tflite"])
def test_a_model_whose_metadata_lies_is_one_line(photos, tmp_path, metadata, message, suffix):
    """Metadata is checked for types and ranges, and against the network's own input and output shapes."""
    if suffix == ".tflite":
        model = tflite_model_with_metadata(tmp_path, metadata)
    else:
        raw = metadata if isinstance(metadata, bytes) else json.dumps({**KERAS_METADATA, **metadata}).encode()
        model = keras_model_with_metadata(tmp_path, raw)
    out = run_cli("predict", str(photos), "--model", str(model))
    assert out.returncode == 2
    lines = [line for line in stderr_lines(out) if not line.startswith(("WARNING", "W0000", "I0000", "E0000"))]
    assert len(lines) == 1 and message in lines[0], lines
    assert out.stdout == b""


@pytest.mark.parametrize("args", [
    ["video", "{clip}", "--max-frames", "0"],
    ["video", "{clip}", "--max-frames", "-5"],
    ["video", "{clip}", "--smoothing", "5"],
    ["video", "{clip}", "--smoothing", "nan"],
    ["video", "{clip}", "--smoothing", "-0.1"],
    ["video", "{clip}", "--detect-every", "0"],
    ["video", "{clip}", "--min-confidence", "2"],
    ["video", "{clip}", "--min-confidence", "nan"],
    ["predict", "{photo}", "--min-confidence", "2"],
    ["predict", "{photo}", "--min-confidence", "0"],
    ["predict", "{photo}", "--min-confidence", "inf"],
    ["predict", "{photo}", "--min-confidence", "-0.5"],
], ids=" ".join)
def test_numeric_options_out_of_range_are_refused(photos, tmp_path, args):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"never read: the option is refused first")
    out = run_cli(*[a.format(clip=clip, photo=photos / "a" / "photo.jpg") for a in args])
    lines = stderr_lines(out)
    assert out.returncode == 2 and lines[0].startswith("usage: "), lines
    assert f"error: argument {args[2]}: must be " in lines[-1] and repr(args[3]) in lines[-1], lines
    assert out.stdout == b""


def test_a_file_name_that_is_not_utf8_does_not_break_the_csv(tmp_path, face_photo):
    folder = tmp_path / "odd"
    folder.mkdir()
    name = os.fsdecode(b"caf\xe9 \xff.png")
    write_image(folder / name, face_photo)
    write_image(folder / "plain.png", face_photo)
    out = run_cli("predict", str(folder), "--format", "csv")
    assert out.returncode == 0, stderr_lines(out)
    paths = [row["path"] for row in csv.DictReader(io.StringIO(out.stdout.decode("utf-8")))]
    assert paths == [str(folder / "caf\\xe9 \\xff.png"), str(folder / "plain.png")]


def test_annotated_copies_of_same_named_photos_never_overwrite(photos, tmp_path):
    annotated = tmp_path / "annotated"
    files = [str(photos / "a" / "photo.jpg"), str(photos / "b" / "photo.jpg")]
    out = run_cli("predict", *files, "--annotate", str(annotated))
    assert out.returncode == 0, stderr_lines(out)
    first, second = annotated / "photo_annotated.png", annotated / "photo_annotated-2.png"
    assert set(annotated.iterdir()) == {first, second} and first.read_bytes() != second.read_bytes()

    before = first.read_bytes()
    out = run_cli("predict", files[0], "--annotate", str(annotated))  # again: the file exists
    assert out.returncode == 2 and "add --overwrite" in stderr_lines(out)[0]  # refused before any work
    assert first.read_bytes() == before and out.stdout == b""
    out = run_cli("predict", files[1], "--annotate", str(annotated), "--overwrite")
    assert out.returncode == 0 and first.read_bytes() != before

    out = run_cli("predict", str(photos), "--annotate", str(tmp_path / "mirrored"))  # folders keep their layout
    assert out.returncode == 0
    assert sorted(p.relative_to(tmp_path / "mirrored").as_posix() for p in (tmp_path / "mirrored").rglob("*.png")) == [
        "a/photo_annotated.png", "b/photo_annotated.png"]


def test_many_odd_names_and_repeated_runs_never_crash(tmp_path, face_photo):
    """A run once ended in a segfault (exit 139); the CLI no longer loads TensorFlow. Five runs over
    odd names must all end normally."""
    folder = tmp_path / "odd"
    for i, name in enumerate(["spaces in name.png", "ümlaut.png", "#hash.png", "-dash.png", "emoji 😀.png",
                              os.fsdecode(b"bad \xfe.png"), "x" * 200 + ".png", "a.b.c.png"]):
        write_image(folder / name, face_photo if i % 2 else np.full((64, 64, 3), 128, np.uint8))
    (folder / "empty.jpg").write_bytes(b"")
    for _ in range(5):
        out = run_cli("predict", str(folder), "--format", "csv", "--annotate", str(tmp_path / f"ann{_}"))
        assert out.returncode == 1, (out.returncode, stderr_lines(out))  # 1: the empty file
        assert len(stderr_lines(out)) == 1
    shutil.rmtree(folder)


def test_an_output_that_is_an_input_is_refused_and_the_input_kept(photos, tmp_path):
    photo = tmp_path / "p.jpg"
    photo.write_bytes((photos / "a" / "photo.jpg").read_bytes())
    (tmp_path / "link.jpg").symlink_to(photo)
    pixels = tmp_path / "x.csv"
    pixels.write_text("pixels\n" + " ".join(["128"] * 2304) + "\n")
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"not really a video, and never to be replaced")
    for args, kept in ((("predict", str(photo), "--output", str(photo)), photo),
                       (("predict", str(photo), "--output", str(tmp_path / "link.jpg")), photo),
                       (("predict", str(tmp_path), "--output", str(photo)), photo),
                       (("predict-csv", str(pixels), "--output", str(pixels)), pixels),
                       (("video", str(video), "--output", str(video), "--overwrite"), video),
                       (("video", str(video), "--csv", str(video)), video)):
        before = kept.read_bytes()
        out = run_cli(*args)
        lines = stderr_lines(out)
        assert out.returncode == 2 and len(lines) == 1 and "is the input" in lines[0], (args, lines)
        assert kept.read_bytes() == before
