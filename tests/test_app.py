"""Every page's logic through Streamlit's AppTest, with the real model and real images."""

from __future__ import annotations

import io
import json
import shutil

import av
import numpy as np
import pandas as pd
import pytest
import streamlit_webrtc  # noqa: F401 - before TensorFlow: see streamlit_app.py
from PIL import Image
from streamlit.testing.v1 import AppTest

from fer.classifier import FALLBACK_MODEL, LIVE_MODEL, MODELS_DIR, PHOTOS_MODEL, default_model_path
from fer.model_file import read_model_info
from fer.report import ModelReport, report_path_for
from tests.conftest import FER2013_MODEL, ROOT

APP = str(ROOT / "streamlit_app.py")
TIMEOUT = 180
SHIPPED = MODELS_DIR / f"{FER2013_MODEL}.tflite"  # a small real model, as the app runs it


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg(array: np.ndarray, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def open_page(page: str, **query: str) -> AppTest:
    """`page` opened from the home page, with `query` as its URL's query parameters (?engine=server)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    at.query_params.update(query)
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_home_page():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.title[0].value == "Facial expression recognition"
    text = " ".join(m.value for m in at.markdown)
    assert ("never" in text and "not an emotion" in text.lower()) or "expression is not an emotion" in text
    shipped = default_model_path("photos")  # the dashboard's own headline: the file the app runs, read mirrored too
    plus = ModelReport.load(shipped).scores(shipped.name, "test", "flip")["ferplus"]
    assert f"On {plus['count']:,} faces held out" in text and f"on {plus['accuracy']:.1%} of them" in text
    assert f"found {plus['balanced_accuracy']:.1%} of each expression" in text


def test_upload_several_photos_with_good_bad_and_faceless_files(face_photo):
    at = open_page("app_pages/upload.py")
    bomb = io.BytesIO()
    Image.new("1", (20000, 20000)).save(bomb, format="PNG")
    at.file_uploader[0].set_value([
        ("astronaut.png", png(face_photo), "image/png"),
        ("broken.jpg", jpeg(face_photo)[:2000], "image/jpeg"),
        ("wall.png", png(np.full((200, 300, 3), 180, np.uint8)), "image/png"),
        ("bomb.png", bomb.getvalue(), "image/png"),
        ("notes.jpg", b"plain text pretending to be a photo", "image/jpeg"),
    ]).run()
    assert not at.exception, [e.value for e in at.exception]
    errors = " ".join(e.value for e in at.error)
    assert "broken.jpg" in errors and "damaged or truncated" in errors
    assert "bomb.png" in errors and ("megapixels" in errors or "too large" in errors)
    assert "notes.jpg" in errors
    assert any("No face found" in i.value for i in at.info)
    assert [s.value for s in at.subheader][:2] == ["`astronaut.png`", "`wall.png`"]
    table = at.dataframe[0].value  # every photo read, the face-less one too, as `fer predict` writes them
    assert list(table["path"]) == ["astronaut.png", "wall.png"] and list(table["faces"]) == [1, 0]
    assert table.loc[0, "label"] in table.columns  # the label is one of the probability columns
    assert abs(table.iloc[0][["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]].sum() - 1) < 0.01


def test_a_tiny_photo_is_shown_at_its_own_size_and_says_why_no_face(face_photo):
    at = open_page("app_pages/upload.py")
    at.file_uploader[0].set_value(("dot.png", png(np.zeros((1, 1, 3), np.uint8)), "image/png")).run()
    assert not at.exception
    assert at.get("image")[0].captions == ["No face found"]
    assert not at.get("download_button") or all("annotated" not in b.label for b in at.get("download_button"))
    assert any("only 1x1 pixels" in i.value for i in at.info)
    from app_pages.common import display_width

    assert display_width(1) == 1 and display_width(399) == 399  # shown at its own size, not a column-wide square
    assert display_width(400) == display_width(4000) == "stretch"


def test_the_same_photo_twice_and_names_that_look_like_markdown(face_photo):
    """Duplicate uploads once raised StreamlitDuplicateElementKey; names are shown, never rendered."""
    at = open_page("app_pages/upload.py")
    photo = png(face_photo)
    hostile = ["# Heading red .png", "![t](https:host x).png", "**bold** :red[x] $y$ `tick`.png"]
    at.file_uploader[0].set_value([
        ("same.png", photo, "image/png"), ("same.png", photo, "image/png"), ("other.png", photo, "image/png"),
        *[(name, photo, "image/png") for name in hostile],
        ("# broken.jpg", b"not an image", "image/jpeg"),
    ]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert [s.value for s in at.subheader][:6] == [
        "`same.png`", "`same.png`", "`other.png`", "`# Heading red .png`", "`![t](https:host x).png`",
        "``**bold** :red[x] $y$ `tick`.png``"]
    assert at.error[0].value.startswith("`# broken.jpg`: ")
    assert list(at.dataframe[0].value["path"]) == ["same.png", "same.png", "other.png", *hostile]


def test_upload_50_megapixel_photo(face_photo):
    big = np.asarray(Image.fromarray(face_photo).resize((8660, 5774)))  # 50 MP
    at = open_page("app_pages/upload.py")
    at.file_uploader[0].set_value(("huge.jpg", jpeg(big, 80), "image/jpeg")).run()
    assert not at.exception and not at.error
    row = at.dataframe[0].value.iloc[0]  # decoded at 4096 px, reported in the photo's own pixels
    assert 8660 * 178 / 512 * 0.9 < row["x"] < 8660 * 178 / 512 * 1.1 and row["x"] + row["w"] < 8660
    assert list(at.dataframe[0].value["path"]) == ["huge.jpg"]


def test_camera_snapshot(face_photo):
    at = open_page("app_pages/upload.py")
    at.camera_input[0].set_value(("snapshot.jpg", jpeg(face_photo), "image/jpeg")).run()
    assert not at.exception
    assert list(at.dataframe[0].value["path"]) == ["camera snapshot.jpg"]


def test_dashboard_answers_how_good_first_for_the_file_the_app_runs():
    shown = default_model_path("photos")  # the dashboard opens on the model photos use, read as Photos reads
    report = ModelReport.load(shown)
    plus = report.scores(shown.name, "test", "flip")["ferplus"]
    at = open_page("app_pages/dashboard.py")
    assert not at.warning, [w.value for w in at.warning]
    assert [h.value for h in at.header][:4] == ["How good is it?", "Per expression", "Calibration", "The file"]
    text = " ".join(m.value for m in at.markdown)
    assert f"agreed with the majority of ten people on {plus['accuracy']:.1%}" in text
    labels = {m.label: m.value for m in at.metric}
    assert labels["Agrees with 10 people"] == f"{plus['accuracy']:.1%}"
    assert labels["Each expression, on average"] == f"{plus['balanced_accuracy']:.1%}"
    assert labels["Calibration error"] == f"{100 * plus['expected_calibration_error']:.1f} points"
    assert all(len(label) <= 28 for label in labels)  # short enough not to be cut off in a quarter of the page
    assert labels["Parameters"] == f"{report.parameters:,}"
    per_expression = at.dataframe[0].value
    assert list(per_expression["expression"]) == report.class_names
    assert per_expression["faces"].sum() == plus["count"]
    assert sum(point["faces"] for point in plus["reliability"]) == plus["count"]  # the reliability diagram's
    at.radio[0].set_value("none").run()  # read once, as live video does: the figures follow
    assert not at.exception
    once = report.scores(shown.name, "test", "none")["ferplus"]
    assert {m.label: m.value for m in at.metric}["Agrees with 10 people"] == f"{once['accuracy']:.1%}"
    if report.members:  # an ensemble shows each member's curves
        member = next(s for s in at.selectbox if s.label == "Member")
        assert len(member.options) == len(report.members)
        member.select_index(len(member.options) - 1).run()
        assert not at.exception


def test_two_models_are_compared_on_the_same_yardstick():
    """The FER2013-label model beside the shipped photos model: both on PrivateTest's FER+ majority, read the
    same way (it once showed only FER2013-label accuracy, where the older model looked better)."""
    at = open_page("app_pages/dashboard.py")
    other = next(s for s in at.selectbox if s.label == "Compare with")
    other.select(next(p for p in other.options if "fer2013" in str(p))).run()
    assert not at.exception
    table = at.dataframe[-1].value.set_index("figure")
    row = table.loc["each expression found, on average (PrivateTest, FER+)"]
    assert all(value.endswith("%") for value in row)  # measured for both files, one unit


@pytest.fixture()
def models_folder(tmp_path, monkeypatch):
    folder = tmp_path / "models"
    folder.mkdir()
    monkeypatch.setenv("FER_MODELS_DIR", str(folder))
    return folder


def test_dashboard_without_any_model(models_folder):
    at = open_page("app_pages/dashboard.py")
    assert "no model" in at.warning[0].value.lower()


def test_dashboard_missing_and_partial_report(models_folder):
    shutil.copy(SHIPPED, models_folder / "mine.tflite")
    at = open_page("app_pages/dashboard.py")
    assert "no report found" in at.warning[0].value
    full = json.loads(SHIPPED.with_suffix(".json").read_text())
    partial = {"report_version": 1, "model": full["model"], "history": full["history"][:3]}
    (models_folder / "mine.json").write_text(json.dumps(partial))
    at = open_page("app_pages/dashboard.py")
    assert not at.warning
    infos = " ".join(i.value for i in at.info)
    assert "no evaluation" in infos and "no architecture" in infos and "no class distribution" in infos
    (models_folder / "mine.json").write_text("{not json")
    at = open_page("app_pages/dashboard.py")
    assert "could not be read" in at.warning[0].value
    (models_folder / "mine.json").write_text(json.dumps({**partial, "report_version": 99}))
    at = open_page("app_pages/dashboard.py")
    assert "version 99" in at.warning[0].value and "update the project" in at.warning[0].value


def test_dashboard_scores_a_vote_trained_model_on_both_label_sets(models_folder):
    live = MODELS_DIR / f"{LIVE_MODEL}.tflite"  # trained on the FER+ votes: its scores hold both label sets
    shutil.copy(live, models_folder / live.name)
    shutil.copy(report_path_for(live), models_folder)
    report = ModelReport.load(live)
    plus = report.scores(live.name, "test", "none")["ferplus"]  # the live model: read once, as video reads it
    at = open_page("app_pages/dashboard.py")
    labels = {m.label: m.value for m in at.metric}
    assert labels["Each expression, on average"] == f"{plus['balanced_accuracy']:.1%}"
    stored = read_model_info(live).prior_correction  # the report shows what the file applies
    assert stored is not None and any(f"Output correction: tau {stored.tau:g}, T {stored.temperature:.2f}" in c.value
                                      for c in at.caption)
    assert "FER+ votes" in " ".join(c.value for c in at.caption)
    scored = next(r for r in at.radio if r.label == "Scored against")
    matrix_table = at.dataframe[1].value  # the confusion section opens on FER+, PrivateTest, the file's own
    assert matrix_table["support"].sum() == plus["count"]
    scored.set_value("FER2013 labels").run()
    assert not at.exception
    assert at.dataframe[1].value["support"].sum() == report.scores(live.name, "test", "none")["count"]
    distribution = next(r for r in at.radio if r.label == "Labels")
    distribution.set_value("FER+ majority of ten votes").run()
    assert not at.exception


def test_dashboard_model_selector(models_folder):
    for name in ("a.tflite", "b.tflite"):
        shutil.copy(SHIPPED, models_folder / name)
        shutil.copy(SHIPPED.with_suffix(".json"), models_folder / name.replace(".tflite", ".json"))
    shutil.copy(SHIPPED.with_suffix(".keras"), models_folder / "b.keras")  # one model, two formats: listed once
    at = open_page("app_pages/dashboard.py")
    assert at.selectbox[0].label == "Model" and at.selectbox[0].options == ["a.tflite", "b.tflite"]
    at.selectbox[0].select("b.tflite").run()
    assert not at.exception and "b.tflite" in at.caption[0].value


def test_photos_default_to_the_accurate_model_and_video_to_the_fast_one(models_folder):
    for name in (f"{FALLBACK_MODEL}.tflite", f"{PHOTOS_MODEL}.tflite", "mine.tflite"):
        shutil.copy(SHIPPED, models_folder / name)
    photos = open_page("app_pages/upload.py")
    assert photos.sidebar.selectbox[0].value == f"{PHOTOS_MODEL}.tflite"
    assert photos.sidebar.selectbox[0].options[0] == f"{PHOTOS_MODEL}.tflite"
    live = open_page("app_pages/live.py")  # the Live page's settings are in its Settings popover
    assert live.selectbox[0].value == f"{FALLBACK_MODEL}.tflite"  # no live model here: its float copy
    shutil.copy(SHIPPED, models_folder / f"{LIVE_MODEL}.tflite")
    live = open_page("app_pages/live.py")
    assert live.selectbox[0].value == f"{LIVE_MODEL}.tflite"


def video_frame(rgb: np.ndarray) -> av.VideoFrame:
    return av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[:, :, ::-1]), format="bgr24")


def test_live_page_callback_timeline_and_summary(face_photo):
    """AppTest has no WebRTC: the page says so, and the real callback is fed real frames directly."""
    at = open_page("app_pages/live.py", engine="server")
    assert any("webcam stream is not available" in e.value for e in at.error)
    assert [s.label for s in at.slider][:2] == ["Face detector confidence", "Smoothing over time"]
    session = at.session_state["live_session"]
    for _ in range(5):
        out = session(video_frame(face_photo))
        assert out.width == face_photo.shape[1] and out.height == face_photo.shape[0]
    annotated = out.to_ndarray(format="rgb24")
    corner = (slice(0, 4), slice(0, 40))  # the top of the fps tag: solid black above its text, whatever the digits
    assert (annotated[corner] == 0).all() and not (face_photo[:, ::-1][corner] == 0).all()
    at.run()
    assert not at.exception
    assert len(session.timeline) == 5, len(session.timeline)
    assert {row[1] for row in session.timeline.rows} == {1}, session.timeline.rows  # one face, numbered #1
    assert at.subheader[0].value == "Session summary"
    assert not [m for m in at.metric if m.label in ("Processing rate", "Faces now")], "stale live figures"
    summary = at.dataframe[0].value
    assert abs(summary["share of frames"].sum() - 100) < 1e-6  # in percent, like the mean probabilities


def test_live_callback_error_is_shown_once_and_video_goes_on(face_photo):
    from fer.video import VideoSettings

    at = open_page("app_pages/live.py", engine="server")
    session = at.session_state["live_session"]
    session.update_settings(VideoSettings(min_confidence=None))  # makes detection raise inside the callback
    frames = [session(video_frame(face_photo)) for _ in range(3)]
    assert all(f.to_ndarray(format="rgb24").shape == face_photo.shape for f in frames)
    assert session.pending_error() is not None and session.pending_error() is None  # reported once
    session.update_settings(VideoSettings())
    assert session(video_frame(face_photo)).to_ndarray(format="rgb24").shape == face_photo.shape
    assert session.frames >= 1


def test_changing_the_model_mid_stream_keeps_the_stream_its_timeline_and_recording(face_photo):
    at = open_page("app_pages/live.py", engine="server")
    session = at.session_state["live_session"]
    session.reset(record=True)
    for _ in range(3):
        session(video_frame(face_photo))
    session.drain()
    before, recorder = session.recognizer, session.recorder
    chooser = at.selectbox[0]
    other = next(name for name in chooser.options if name != chooser.value)
    chooser.select(other).run()
    assert not at.exception
    assert at.session_state["live_session"] is session and session.recognizer is not before
    assert session.annotator.recognizer.classifier.path.name == other
    session(video_frame(face_photo))
    session.drain()
    assert len(session.timeline) == 4 and session.recorder is recorder  # nothing was reset
    assert {row[1] for row in session.timeline.rows} == {1}  # the face keeps its number


def test_a_failing_recording_stops_alone_and_the_video_stays_annotated(face_photo):
    at = open_page("app_pages/live.py", engine="server")
    session = at.session_state["live_session"]
    session.reset(record=True)
    first = session(video_frame(face_photo)).to_ndarray(format="rgb24")
    session.recorder._buffer.close()  # the clip's memory is gone: every later write fails
    later = [session(video_frame(face_photo)).to_ndarray(format="rgb24") for _ in range(3)]
    mirrored = face_photo[:, ::-1]
    for frame in (first, *later):  # every frame still comes back mirrored and boxed, none raw
        assert (np.abs(frame.astype(int) - mirrored).max(axis=2) > 60).sum() > 500
    message = session.pending_error()
    assert message.startswith("Recording stopped") and "The stream carries on." in message
    assert "Traceback" not in message and ".py" not in message and "\n" not in message  # no server paths
    assert session.pending_error() is None and session.recorder.failed and session.frames == 4
    clip = session.recorder.finish()
    assert clip == b"" or clip[4:8] == b"ftyp"


def test_ice_servers_configuration(monkeypatch):
    from app_pages.common import rtc_configuration

    for name in ("ICE_SERVERS", "CLOUDFLARE_TURN_KEY_ID", "CLOUDFLARE_TURN_KEY_API_TOKEN", "TWILIO_ACCOUNT_SID",
                 "TWILIO_AUTH_TOKEN", "HF_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert rtc_configuration() == {"iceServers": []}
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC123")
    assert rtc_configuration() == {"iceServers": []}, "half a credential pair is not a configuration"
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "secret")
    assert rtc_configuration() == {}, "iceServers left unset so that streamlit-webrtc fetches TURN servers"
    servers = [{"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "p"}]
    monkeypatch.setenv("ICE_SERVERS", json.dumps(servers))
    assert rtc_configuration() == {"iceServers": servers}


def group_photo(face_photo: np.ndarray) -> np.ndarray:
    """Three copies of the astronaut's face side by side, the largest (most confident) on the right."""
    face = face_photo[20:260, 110:350]
    canvas = np.full((400, 1000, 3), 200, np.uint8)
    for x, side in ((40, 200), (360, 230), (680, 280)):
        canvas[60 : 60 + side, x : x + side] = np.asarray(Image.fromarray(face).resize((side, side)))
    return canvas


def test_photo_faces_are_numbered_left_to_right_on_charts_and_table(face_photo):
    at = open_page("app_pages/upload.py")
    at.file_uploader[0].set_value(("group.png", png(group_photo(face_photo)), "image/png")).run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["face"]) == [1, 2, 3]
    assert list(table["x"]) == sorted(table["x"]), "face numbers follow the faces from left to right"
    titles = [json.loads(chart.proto.spec)["layout"]["title"]["text"] for chart in at.get("plotly_chart")]
    assert [title.split()[1] for title in titles] == ["#1", "#2", "#3"]
    assert all(title.split()[2] == label for title, label in zip(titles, table["label"]))


def crowd_photo(face_photo: np.ndarray, rows: int = 6, columns: int = 6) -> np.ndarray:
    """36 faces of 70 px on a grid, each row's faces at slightly different heights, as people stand."""
    face = face_photo[20:260, 110:350]
    canvas = np.full((20 + 100 * rows, 40 + 120 * columns, 3), 200, np.uint8)
    for r in range(rows):
        for c in range(columns):
            x, y = 20 + c * 120, 20 + r * 100 + (c % 3) * 6
            tile = face if (r + c) % 2 else face[:, ::-1]
            canvas[y : y + 70, x : x + 70] = np.asarray(Image.fromarray(tile).resize((70, 70)))
    return canvas


def test_a_crowd_is_numbered_in_reading_order_with_one_compact_view(face_photo):
    at = open_page("app_pages/upload.py")
    at.file_uploader[0].set_value(("crowd.png", png(crowd_photo(face_photo)), "image/png")).run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["face"]) == list(range(1, 37))
    rows = [list(table["x"][i : i + 6]) for i in range(0, 36, 6)]
    assert all(row == sorted(row) for row in rows)  # each row left to right...
    assert all(max(table["y"][i : i + 6]) < min(table["y"][i + 6 : i + 12]) for i in range(0, 30, 6))  # ...rows down
    charts = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    assert len(charts) == 2  # one heat map of all 36 faces and one face's chart, not 36 charts
    heatmap = charts[0]["data"][0]
    assert heatmap["type"] == "heatmap" and [row.split()[0] for row in heatmap["y"]] == [f"#{n}" for n in range(1, 37)]
    chooser = next(s for s in at.selectbox if s.label == "Chart for face")
    chooser.set_value(20).run()
    title = json.loads(at.get("plotly_chart")[1].proto.spec)["layout"]["title"]["text"]
    assert title.startswith("Face #20 ")


def test_a_crowd_explains_the_faces_asked_for_and_says_how_many(face_photo):
    at = open_page("app_pages/upload.py")
    at.file_uploader[0].set_value(("crowd.png", png(crowd_photo(face_photo)), "image/png")).run()
    next(t for t in at.sidebar.toggle if t.label == "Show what each label rests on").set_value(True).run()
    assert not at.exception
    assert any(c.value.startswith("6 of 36 faces explained") for c in at.caption)
    at.multiselect[0].set_value([1, 17, 36]).run()
    assert not at.exception
    captions = [img.caption for element in at.get("image") for img in element.proto.imgs]
    assert [c.split()[0] for c in captions if c.startswith("#")] == ["#1", "#17", "#36"]
    assert any(c.value.startswith("3 of 36 faces explained") for c in at.caption)


def test_photos_explain_each_face_on_demand(face_photo):
    at = open_page("app_pages/upload.py")
    at.file_uploader[0].set_value(("group.png", png(group_photo(face_photo)), "image/png")).run()
    assert len(at.get("image")) == 1  # the annotated photo only
    explain = next(t for t in at.sidebar.toggle if t.label == "Show what each label rests on")
    explain.set_value(True).run()
    assert not at.exception
    images = at.get("image")
    captions = [img.caption for element in images for img in element.proto.imgs]
    heat = [c for c in captions if c.startswith("#")]
    assert [c.split()[0] for c in heat] == ["#1", "#2", "#3"], captions
    assert all("up to −" in c for c in heat)


def test_dashboard_feature_maps_of_an_uploaded_face(face_photo):
    at = open_page("app_pages/dashboard.py")
    assert any("Upload a photo" in c.value for c in at.caption)
    uploader = next(u for u in at.get("file_uploader") if "photo with a face" in u.proto.label)
    uploader.set_value(("me.png", png(face_photo), "image/png")).run()
    assert not at.exception, [e.value for e in at.exception]
    layer = next(s for s in at.select_slider if s.key == "feature_layer")
    assert "b0_relu0" in layer.options[0] and "b3_pool" in layer.options[-1]
    assert len(at.get("image")) == 2  # the heat map and the feature-map grid
    first_grid = at.get("image")[1].proto.imgs[0].url
    layer.set_value(len(layer.options) - 1).run()
    assert not at.exception and at.get("image")[1].proto.imgs[0].url != first_grid


def test_dashboard_says_when_the_model_file_itself_does_not_open(models_folder):
    """A report can outlive its model file: the figures still show, under a clear error."""
    data = SHIPPED.read_bytes()
    (models_folder / "broken.tflite").write_bytes(data[: len(data) // 2])
    shutil.copy(SHIPPED.with_suffix(".json"), models_folder / "broken.json")
    at = open_page("app_pages/dashboard.py")
    assert len(at.error) == 1 and "broken.tflite" in at.error[0].value and "does not open" in at.error[0].value
    assert any(m.label == "Accuracy" for m in at.metric)  # the report is still there to read
    assert any("does not open" in i.value for i in at.info)  # and nothing offers to run the file
    assert not any("photo with a face" in u.proto.label for u in at.get("file_uploader"))


def test_a_model_whose_metadata_lies_gets_a_clear_message_in_the_app(models_folder):
    from tests.test_cli_hostile import tflite_model_with_metadata

    tflite_model_with_metadata(models_folder, {"image_size": [96, 96]})
    at = open_page("app_pages/upload.py")  # the page stops at the model, before anything can be uploaded
    assert [e.value for e in at.error] == [
        f"The model model.tflite could not be loaded ({models_folder / 'model.tflite'}: its metadata says 96x96 "
        "pixels with 1 channel(s), but the network reads 48 x 48 x 1). Train one with `python -m training.train`, "
        "or pick another in the sidebar."]
    assert not at.file_uploader


def test_dashboard_says_which_file_each_figure_is_for_and_compares_two_models():
    at = open_page("app_pages/dashboard.py")
    chosen = at.selectbox[0].value
    assert any(f"`{chosen}`, the file the app runs" in c.value and "float model it was converted from" in c.value
               for c in at.caption)
    compare = next(s for s in at.selectbox if s.label == "Compare with")
    other = next(o for o in compare.options if o != chosen)
    compare.set_value(other).run()
    assert not at.exception
    table = next(d.value for d in at.dataframe if "figure" in d.value.columns)
    assert list(table.columns) == ["figure", chosen, other]
    rows = dict(zip(table["figure"], table[chosen]))
    plus = ModelReport.load(MODELS_DIR / "ferplus_ensemble.json").scores(chosen, "test", "flip")["ferplus"]
    assert rows["file the app runs"] == chosen and rows["weights"] == "int8"
    assert rows["each expression found, on average (PrivateTest, FER+)"] == f"{plus['balanced_accuracy']:.1%}"
    assert rows["fear: found (PrivateTest, FER+)"] == f"{plus['per_class']['fear']['recall']:.0%}"
    assert dict(zip(table["figure"], table[other]))["file the app runs"] == other


def test_the_live_chart_is_the_apps_own_chart_of_the_last_minute():
    """Each face in view gets a Plotly chart like every other in the app (it was an OpenCV-drawn picture),
    from at most CHART_POINTS points per line, averaged rather than picked."""
    from app_pages.live import CHART_POINTS
    from app_pages.timeline_views import face_chart, face_table
    from fer.drawing import color_for

    names = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
    t = np.arange(0, 60, 1 / 30)
    happy = 0.5 + 0.4 * np.sin(t / 5)
    rest = (1 - happy) / 6
    table = pd.DataFrame({"t": t, "face": 1, "label": "happy", "score": happy,
                          **{n: happy if n == "happy" else rest for n in names}})
    few = face_table(table, 1, max_points=CHART_POINTS)
    assert 100 <= len(few) <= CHART_POINTS + 1 and few["t"].is_monotonic_increasing
    assert abs(few["happy"].mean() - happy.mean()) < 0.01  # averaged, not picked
    figure = face_chart(few, 1, names, height=260)
    assert [trace.name for trace in figure.data] == list(names)
    assert all(len(trace.x) == len(few) for trace in figure.data)
    assert figure.data[names.index("happy")].line.color == f"rgb{color_for('happy')}"


def test_importing_the_pages_helpers_starts_nothing_and_the_entry_point_tunes_memory_once():
    import subprocess
    import sys

    code = """
import threading
import app_pages.common, app_pages.live_session, app_pages.timeline_views, app_pages.left_sessions
assert [t.name for t in threading.enumerate()] == ["MainThread"], threading.enumerate()
from app_pages.process_memory import tune_memory_once
from app_pages.left_sessions import close_left_sessions_once
tune_memory_once(); tune_memory_once(); close_left_sessions_once(); close_left_sessions_once()
names = [t.name for t in threading.enumerate()]
assert names.count("heap-trim") == 1 and names.count("left-sessions") == 1, names
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
