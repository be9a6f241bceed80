"""`fer predict` writes what its output's name says: `.json` one JSON document, `.jsonl` JSON Lines, `.csv` and
`.parquet` a row per face; `--resume` finishes either JSON form and refuses any file it did not write. Every
case runs the real `fer` command on the astronaut's face."""

from __future__ import annotations

import csv
import io
import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, write_image
from tests.test_cli_outputs import fer_command, run_cli, stderr_lines


@pytest.fixture
def photos(tmp_path, face_photo) -> Path:
    folder = tmp_path / "photos"
    for i in range(3):
        write_image(folder / f"p{i}.jpg", face_photo)
    return folder


def read_results(path: Path) -> list[dict]:
    """The records of a results file, read the way its name says a reader should."""
    if path.suffix == ".json":
        return json.loads(path.read_text())
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("name", ["results.json", "results.jsonl", "results.csv", "results.parquet"])
def test_each_output_holds_the_format_its_name_says(photos, tmp_path, name):
    target = tmp_path / name
    out = run_cli("predict", photos, "--output", target, "--quiet")
    assert out.returncode == 0 and stderr_lines(out) == []
    paths = [str(photos / f"p{i}.jpg") for i in range(3)]
    if name.endswith((".json", ".jsonl")):
        records = read_results(target)
        assert [r["path"] for r in records] == paths
        assert all(r["faces"][0]["label"] == "happy" for r in records)
    elif name.endswith(".csv"):
        rows = list(csv.DictReader(target.open()))
        assert [r["path"] for r in rows] == paths and {r["label"] for r in rows} == {"happy"}
    else:
        import pyarrow.parquet as pq

        table = pq.read_table(target).to_pydict()
        assert table["path"] == paths and set(table["label"]) == {"happy"}


def test_json_is_one_document_even_with_nothing_in_it(tmp_path):
    (tmp_path / "empty").mkdir()
    target = tmp_path / "results.json"
    out = run_cli("predict", tmp_path / "missing.jpg", tmp_path / "empty", "--output", target)
    assert out.returncode == 1 and json.loads(target.read_text()) == []
    assert stderr_lines(out) == [f"skipped {tmp_path / 'missing.jpg'}: no such file or folder",
                                 f"skipped {tmp_path / 'empty'}: a folder with no .bmp, .gif, .jpeg, .jpg, .pgm, "
                                 ".png, .ppm, .tif, .tiff, .webp file in it"]


def test_stdout_is_json_lines_unless_format_json_is_asked(photos):
    lines = run_cli("predict", photos).stdout.decode().splitlines()
    assert [json.loads(line)["path"] for line in lines] == [str(photos / f"p{i}.jpg") for i in range(3)]
    document = json.loads(run_cli("predict", photos, "--format", "json").stdout)
    assert [r["path"] for r in document] == [str(photos / f"p{i}.jpg") for i in range(3)]


@pytest.mark.parametrize(("name", "fmt"), [("x.json", "csv"), ("x.csv", "jsonl"), ("x.parquet", "json"),
                                           ("x.jsonl", "json")])
def test_a_format_that_contradicts_the_name_is_refused(photos, tmp_path, name, fmt):
    out = run_cli("predict", photos, "--format", fmt, "--output", tmp_path / name)
    assert out.returncode == 2
    assert stderr_lines(out) == [f"error: --format {fmt} contradicts --output {tmp_path / name}, which names a "
                                 f"{Path(name).suffix[1:]} file: leave out --format, or name the output .{fmt}"]
    assert not list(tmp_path.glob("*x*"))


def test_a_name_without_a_format_takes_format_or_json_lines(photos, tmp_path):
    assert run_cli("predict", photos, "--output", tmp_path / "out.txt").returncode == 0
    assert len(read_results(tmp_path / "out.txt")) == 3
    assert run_cli("predict", photos, "--format", "csv", "--output", tmp_path / "out.tsv").returncode == 0
    assert (tmp_path / "out.tsv").read_text().startswith("path,faces,face,")


@pytest.mark.parametrize("name", ["results.json", "results.jsonl"])
def test_a_killed_run_is_finished_by_resume_in_either_json_form(tmp_path, face_photo, name):
    for i in range(60):
        write_image(tmp_path / "photos" / f"p{i:02d}.jpg", face_photo)
    target = tmp_path / name
    run = subprocess.Popen(fer_command("predict", tmp_path / "photos", "--output", target, "--quiet"), cwd=ROOT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not any(p.stat().st_size > 8000 for p in tmp_path.glob(f".{name}.*")) and run.poll() is None \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=60)
    assert not target.exists() and len(list(tmp_path.glob(f".{name}.*.partial"))) == 1

    out = run_cli("predict", tmp_path / "photos", "--output", target, "--resume", "--quiet")
    assert out.returncode == 0, out.stderr
    recorded = int(stderr_lines(out)[0].split(": ")[1].split(" photo")[0])
    assert 0 < recorded < 60
    records = read_results(target)
    assert sorted(Path(r["path"]).name for r in records) == [f"p{i:02d}.jpg" for i in range(60)]  # each once
    assert not list(tmp_path.glob(f".{name}.*"))  # the killed run's staged file was merged, then removed


def test_an_older_json_lines_file_named_json_is_resumed_into_one_document(photos, tmp_path):
    target = tmp_path / "results.json"
    assert run_cli("predict", photos / "p0.jpg", "--output", tmp_path / "old.jsonl").returncode == 0
    (tmp_path / "old.jsonl").rename(target)  # what `--output results.json` wrote before it meant JSON
    out = run_cli("predict", photos, "--output", target, "--resume", "--quiet")
    assert out.returncode == 0 and "1 photo(s) recorded by earlier runs" in stderr_lines(out)[0]
    assert [r["path"] for r in json.loads(target.read_text())] == [str(photos / f"p{i}.jpg") for i in range(3)]


@pytest.mark.parametrize(("name", "content"), [
    ("notes.json", "my notes, not results\n"),
    ("config.json", '{"setting": 1, "other": [1, 2]}\n'),
    ("list.json", "[1, 2, 3]\n"),
    ("events.jsonl", '{"path": "a.jpg", "faces": []}\n{"event": "login"}\n'),
    ("table.csv", "name,age\nada,36\n"),
])
def test_resume_refuses_a_file_it_did_not_write_and_leaves_it_alone(photos, tmp_path, name, content):
    target = tmp_path / name
    target.write_text(content)
    out = run_cli("predict", photos, "--output", target, "--resume")
    assert out.returncode == 2
    (line,) = stderr_lines(out)
    assert line.startswith(f"error: {target} ") and ("not a results file" in line), line
    assert target.read_text() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["photos", name])  # nothing staged is left


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised_and_still_resume(tmp_path, face_photo):
    names = ["=HYPERLINK(1).jpg", "+sum.jpg", "-minus.jpg", "@at.jpg", "plain.jpg"]
    for name in names:
        write_image(tmp_path / name, face_photo)

    def fer_here(*args: str) -> subprocess.CompletedProcess:  # relative names, as typed: "=..." starts the cell
        return subprocess.run(fer_command(*args), cwd=tmp_path, capture_output=True, text=True, timeout=300)

    first = fer_here("predict", "--output", "r.csv", "--", "plain.jpg", "-minus.jpg", "=HYPERLINK(1).jpg")
    assert first.returncode == 0, first.stderr
    out = fer_here("predict", "--output", "r.csv", "--resume", "--quiet", "--", *names)
    assert out.returncode == 0 and "3 photo(s) recorded by earlier runs; 2 of 5 to do" in out.stderr, out.stderr
    rows = list(csv.DictReader((tmp_path / "r.csv").open()))
    assert sorted(row["path"] for row in rows) == sorted(  # each photo once, formulas defused
        ["'=HYPERLINK(1).jpg", "'+sum.jpg", "'-minus.jpg", "'@at.jpg", "plain.jpg"])
    assert all(float(row["x"]) >= 0 and row["label"] == "happy" for row in rows)


def test_relative_names_that_start_like_formulas_get_an_apostrophe(tmp_path, face_photo):
    for name in ("=1+1.jpg", "ok.jpg"):
        write_image(tmp_path / name, face_photo)
    out = subprocess.run(fer_command("predict", "=1+1.jpg", "ok.jpg", "--format", "csv"), cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0
    assert [row["path"] for row in csv.DictReader(out.stdout.splitlines())] == ["'=1+1.jpg", "ok.jpg"]


def test_safe_csv_writer_leaves_numbers_and_plain_text_alone():
    import io

    from fer.spreadsheet import SafeCsvWriter

    stream = io.StringIO()
    writer = SafeCsvWriter(stream)
    writer.writerow(["=cmd|' /C calc'!A0", -3.5, "-3.5", "\tx", "happy", None, 0])
    writer.raw.writerow(["'=already safe", "-1"])
    assert stream.getvalue().splitlines() == ["'=cmd|' /C calc'!A0,-3.5,'-3.5,'\tx,happy,,0", "'=already safe,-1"]


@pytest.mark.parametrize(("args", "message"), [
    (["predict", "{photos}", "--output", "{tmp}/out.mp4"],
     "--output {tmp}/out.mp4 would hold results (JSON, JSON Lines, CSV or Parquet) under a .mp4 name: name it "
     ".json"),
    (["predict-csv", "{pixels}", "--output", "{tmp}/out.json"],
     "--output {tmp}/out.json would hold CSV under a .json name: name it .csv"),
    (["video", "{clip}", "--output", "{tmp}/out.avi"],
     "--output {tmp}/out.avi would hold H.264 MP4 under a .avi name: name it .mp4"),
    (["video", "{clip}", "--csv", "{tmp}/timeline.parquet"],
     "--csv {tmp}/timeline.parquet would hold CSV under a .parquet name: name it .csv"),
])
def test_every_verb_refuses_an_output_named_for_another_format(photos, tmp_path, args, message):
    pixels = tmp_path / "pixels.csv"
    pixels.write_text("pixels\n" + " ".join(["128"] * 2304) + "\n")
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"never read: the name is refused first")
    values = {"photos": photos, "tmp": tmp_path, "pixels": pixels, "clip": clip}
    out = run_cli(*[arg.format(**values) for arg in args])
    assert out.returncode == 2
    assert stderr_lines(out) == ["error: " + message.format(**values)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "photos", "pixels.csv"]


def test_the_next_run_that_completes_an_output_removes_what_a_killed_run_left(tmp_path, face_photo):
    for i in range(60):
        write_image(tmp_path / "photos" / f"p{i:02d}.jpg", face_photo)
    target = tmp_path / "results.jsonl"
    run = subprocess.Popen(fer_command("predict", tmp_path / "photos", "--output", target, "--quiet", "--workers", "1"),
                           cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not any(p.stat().st_size > 3000 for p in tmp_path.glob(".results.jsonl.*")) and run.poll() is None \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    run.kill()
    run.wait(timeout=60)
    assert len(list(tmp_path.glob(".results.jsonl.*.partial"))) == 1
    out = run_cli("predict", tmp_path / "photos" / "p00.jpg", "--output", target)  # another run, same output
    assert out.returncode == 0 and len(read_results(target)) == 1
    assert not list(tmp_path.glob(".results.jsonl.*"))


def test_a_link_to_nothing_is_named_not_passed_over(tmp_path, face_photo):
    folder = tmp_path / "photos"
    write_image(folder / "real.jpg", face_photo)
    (folder / "gone.jpg").symlink_to(tmp_path / "deleted.jpg")
    (tmp_path / "direct.jpg").symlink_to(tmp_path / "deleted.jpg")
    out = run_cli("predict", folder, tmp_path / "direct.jpg")
    assert out.returncode == 1
    assert stderr_lines(out) == [f"skipped {folder / 'gone.jpg'}: a link to a file that does not exist",
                                 f"skipped {tmp_path / 'direct.jpg'}: a link to a file that does not exist"]
    assert [json.loads(line)["path"] for line in out.stdout.decode().splitlines()] == [str(folder / "real.jpg")]


def test_records_in_memory_account_for_an_image_without_a_face(recognizer, face_photo):
    """The Photos page's downloads are `fer predict`'s formats: a face-less photo is a record too."""
    from fer.commands.records import records_text

    faces = [face.to_json() for face in recognizer.analyze(face_photo)]
    images = [("astronaut.png", faces), ("wall.png", [])]
    names = recognizer.class_names
    rows = list(csv.DictReader(io.StringIO(records_text(images, "csv", names))))
    assert [(row["path"], row["faces"], row["label"]) for row in rows] == [("astronaut.png", "1", "happy"),
                                                                          ("wall.png", "0", "")]
    assert json.loads(records_text(images, "json", names)) == [{"path": "astronaut.png", "faces": faces},
                                                               {"path": "wall.png", "faces": []}]
