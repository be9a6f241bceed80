"""Dataset loaders on small generated datasets in every supported format, and their errors."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from tests.conftest import write_image
from training.data import (
    FER2013_CLASSES,
    TEST,
    TEST_ALL,
    TRAIN,
    VAL,
    DatasetError,
    load_dataset,
    stratified_split,
)

rng = np.random.default_rng(0)


def make_fer_folder(root, per_class=3, classes=FER2013_CLASSES):
    """A miniature of the Kaggle layout: train/<class>/Training_*, test/<class>/{Public,Private}Test_*."""
    for c, name in enumerate(classes):
        for i in range(per_class):
            write_image(root / "train" / name / f"Training_{c}{i}.jpg", np.full((48, 48), 30 * c, np.uint8))
            write_image(root / "test" / name / f"PublicTest_{c}{i}.jpg", np.full((48, 48), 30 * c, np.uint8))
            write_image(root / "test" / name / f"PrivateTest_{c}{i}.jpg", np.full((48, 48), 30 * c, np.uint8))
    return root


def fer_csv(path, rows, header="emotion,pixels,Usage"):
    lines = [header]
    for label, pixels, usage in rows:
        cells = [str(label), " ".join(map(str, pixels))] + ([usage] if usage else [])
        lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_fer_folder_layout_splits_by_file_name(tmp_path):
    ds = load_dataset(make_fer_folder(tmp_path / "fer"))
    assert ds.class_names == FER2013_CLASSES
    assert ds.image_size == (48, 48) and ds.channels == 1
    assert {k: len(v) for k, v in ds.splits.items()} == {TRAIN: 21, VAL: 21, TEST: 21, TEST_ALL: 42}
    assert "PublicTest" in ds.source
    # Labels follow the folders: every "happy" image is the happy grey level.
    happy = FER2013_CLASSES.index("happy")
    assert (ds.splits[TRAIN].images[ds.splits[TRAIN].labels == happy] == 30 * happy).all()


def test_zip_with_wrapper_folder_matches_folder(tmp_path):
    root = make_fer_folder(tmp_path / "archive")
    archive = tmp_path / "fer2013.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in root.rglob("*.jpg"):
            zf.write(path, "archive/" + path.relative_to(root).as_posix())
    from_zip, from_dir = load_dataset(archive), load_dataset(root)
    assert from_zip.fingerprint() == from_dir.fingerprint()
    assert from_zip.source.startswith("zip of")


def test_fer2013_csv_maps_labels_to_names(tmp_path):
    # fer2013.csv index 4 is "sad" and 6 is "neutral", not alphabetical order.
    rows = [(4, [10] * 2304, "Training"), (6, [20] * 2304, "Training"), (3, [30] * 2304, "PublicTest"),
            (0, [40] * 2304, "PrivateTest")]
    ds = load_dataset(fer_csv(tmp_path / "fer2013.csv", rows))
    train = ds.splits[TRAIN]
    assert [ds.class_names[i] for i in train.labels] == ["sad", "neutral"]
    assert train.images.shape == (2, 48, 48, 1) and train.images[0].max() == 10
    assert ds.class_names[ds.splits[VAL].labels[0]] == "happy"
    assert ds.class_names[ds.splits[TEST].labels[0]] == "angry"
    assert len(ds.splits[TEST_ALL]) == 2


def test_kaggle_train_csv_gets_stratified_validation(tmp_path):
    rows = [(label, rng.integers(0, 256, 2304), None) for label in range(7) for _ in range(10)]
    ds = load_dataset(fer_csv(tmp_path / "train.csv", rows, header="emotion,pixels"), val_fraction=0.2, seed=1)
    assert set(ds.splits) == {TRAIN, VAL}
    assert ds.splits[VAL].class_counts(7) == [2] * 7 and ds.splits[TRAIN].class_counts(7) == [8] * 7
    again = load_dataset(tmp_path / "train.csv", val_fraction=0.2, seed=1)
    assert again.fingerprint() == ds.fingerprint()


def test_other_classes_sizes_and_colour(tmp_path):
    """A 3-class happy/sad/angry set of 150x150 RGB photos, no split folders."""
    for name in ("happy", "sad", "angry"):
        for i in range(10):
            write_image(tmp_path / "faces" / name / f"{i}.png", rng.integers(0, 256, (150, 150, 3), dtype=np.uint8))
    ds = load_dataset(tmp_path / "faces")
    assert ds.class_names == ["angry", "happy", "sad"]
    assert ds.channels == 3 and ds.image_size == (96, 96)
    assert ds.splits[VAL].class_counts(3) == [1, 1, 1]
    assert load_dataset(tmp_path / "faces", image_size=64).image_size == (64, 64)


def test_stratified_split_is_seeded():
    from training.data import Split

    split = Split(np.zeros((100, 2, 2, 1), np.uint8), np.repeat(np.arange(4), 25))
    a_train, a_val = stratified_split(split, 0.2, seed=3)
    _, b_val = stratified_split(split, 0.2, seed=3)
    assert np.array_equal(a_val.labels, b_val.labels) and len(a_val) == 20 and len(a_train) == 80


@pytest.mark.parametrize(
    ("header", "row", "message"),
    [
        ("label,image", "0,1 2 3", "unexpected CSV header"),
        ("emotion,pixels,Usage", "0," + " ".join(["1"] * 2303) + ",Training", r"row 2: 2303 pixel values"),
        ("emotion,pixels,Usage", "9," + " ".join(["1"] * 2304) + ",Training", "row 2: emotion 9 is outside"),
        ("emotion,pixels,Usage", "0," + " ".join(["x"] * 2304) + ",Training", "row 2: pixel value 'x' is not a whole"),
        ("emotion,pixels,Usage", "0," + " ".join(["nan"] * 2304) + ",Training", "row 2: pixel value 'nan'"),
        ("emotion,pixels,Usage", "0," + " ".join(["300"] * 2304) + ",Training", r"row 2: pixel values must be within"),
        ("emotion,pixels,Usage", "0," + " ".join(["1"] * 2304) + ",Holdout", "row 2: Usage 'Holdout'"),
    ],
)
def test_malformed_csv_names_the_row(tmp_path, header, row, message):
    path = tmp_path / "bad.csv"
    path.write_text(f"{header}\n{row}\n")
    with pytest.raises(DatasetError, match=message):
        load_dataset(path)


def test_wrong_length_on_a_later_row(tmp_path):
    rows = [(0, [1] * 2304, "Training"), (1, [1] * 2304, "Training"), (2, [1] * 100, "Training")]
    with pytest.raises(DatasetError, match=r"row 4: 100 pixel values, expected 2304"):
        load_dataset(fer_csv(tmp_path / "fer2013.csv", rows))


def test_csv_missing_split(tmp_path):
    rows = [(0, [1] * 2304, "Training"), (1, [1] * 2304, "PublicTest")]
    with pytest.raises(DatasetError, match=r"missing split.*PrivateTest"):
        load_dataset(fer_csv(tmp_path / "fer2013.csv", rows))


def test_unreadable_image_is_named(tmp_path):
    root = make_fer_folder(tmp_path / "fer", per_class=1)
    bad = root / "train" / "sad" / "Training_broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(DatasetError, match=r"Training_broken\.jpg"):
        load_dataset(root, image_size=48, color="grayscale")


def test_empty_class_folder_is_named(tmp_path):
    root = make_fer_folder(tmp_path / "fer", per_class=1)
    (root / "train" / "calm").mkdir()
    with pytest.raises(DatasetError, match=r"calm/ is empty"):
        load_dataset(root)


def test_missing_test_split(tmp_path):
    root = make_fer_folder(tmp_path / "fer", per_class=1)
    for path in (root / "test").rglob("*"):
        if path.is_file():
            path.unlink()
    for path in sorted((root / "test").rglob("*"), reverse=True):
        path.rmdir()
    (root / "test").rmdir()
    with pytest.raises(DatasetError, match="missing split: found train/ but no test/"):
        load_dataset(root)


def test_not_a_dataset(tmp_path):
    with pytest.raises(DatasetError, match="no such file"):
        load_dataset(tmp_path / "nothing")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DatasetError, match="expected a folder"):
        load_dataset(tmp_path / "notes.txt")
    (tmp_path / "fake.zip").write_text("hello")
    with pytest.raises(DatasetError, match="not a valid zip"):
        load_dataset(tmp_path / "fake.zip")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no image files"):
        load_dataset(tmp_path / "empty")


def test_real_fer2013_counts(fer2013_path):
    ds = load_dataset(fer2013_path)
    assert {k: len(v) for k, v in ds.splits.items()} == {TRAIN: 28709, VAL: 3589, TEST: 3589, TEST_ALL: 7178}
    assert ds.splits[TEST].class_counts(7) == [491, 55, 528, 879, 626, 594, 416]
