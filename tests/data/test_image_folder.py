"""ImageFolder and image_folder_splits on small folders of images written here with Pillow."""

import warnings

import numpy as np
import pytest
from PIL import Image

from minicnn.data import (DataFileError, DataLoader, ImageFolder, SkippedFilesWarning,
                          image_folder_splits)

RED, GREEN, BLUE, GREY = (220, 20, 30), (10, 200, 40), (20, 30, 210), 128


def solid(mode, size, colour):
    """A (width, height) image of one colour."""
    return Image.new(mode, size, colour)


def save(image, path, **options):
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **options)
    return path


def pattern(height, width, seed):
    """An RGB array with no two equal neighbours (catches flips and transposes)."""
    return np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)


@pytest.fixture
def root(tmp_path):
    """An empty folder for the images (tmp_path itself holds the conftest's home/)."""
    folder = tmp_path / "images"
    folder.mkdir()
    return folder


@pytest.fixture
def mixed(tmp_path):
    """cat/: PNG, JPEG, nested BMP; dog/: grey PNG, RGBA PNG, GIF, WebP; and non-images."""
    root = tmp_path / "pets"
    save(Image.fromarray(pattern(6, 8, 0)), root / "cat" / "a.png")
    save(solid("RGB", (8, 6), RED), root / "cat" / "b.JPG", quality=95)
    save(solid("RGB", (8, 6), BLUE), root / "cat" / "deeper" / "c.bmp")
    save(solid("L", (8, 6), GREY), root / "dog" / "d_grey.png")
    rgba = np.zeros((6, 8, 4), np.uint8)
    rgba[..., :3] = GREEN
    rgba[..., 3] = 255
    rgba[0, 0, 3] = 0                                   # one transparent pixel
    save(Image.fromarray(rgba, "RGBA"), root / "dog" / "e_rgba.png")
    gif = Image.new("P", (8, 6), 1)
    gif.putpalette([0, 0, 0, *RED] + [0] * (3 * 254))      # palette entry 1 is RED
    save(gif, root / "dog" / "f.gif")
    save(solid("RGB", (8, 6), GREEN), root / "dog" / "g.webp", lossless=True)
    (root / "dog" / "notes.txt").write_text("not an image")
    (root / "README.md").write_text("my pets")
    return root


# ----------------------------------------------------------------------------- reading

def test_mixed_formats_become_one_rgb_uint8_array(mixed):
    with pytest.warns(SkippedFilesWarning, match="skipped 2 file"):
        data = ImageFolder(mixed)
    assert data.images.shape == (7, 6, 8, 3) and data.images.dtype == np.uint8
    assert data.labels.dtype == np.int64 and data.labels.tolist() == [0, 0, 0, 1, 1, 1, 1]
    assert data.classes == ("cat", "dog") and data.source == str(mixed)
    assert [p.relative_to(mixed).as_posix() for p in data.files] == [
        "cat/a.png", "cat/b.JPG", "cat/deeper/c.bmp", "dog/d_grey.png", "dog/e_rgba.png",
        "dog/f.gif", "dog/g.webp"]
    np.testing.assert_array_equal(data.images[0], pattern(6, 8, 0))          # PNG exact
    assert np.abs(data.images[1].astype(int) - RED).max() <= 3               # JPEG, lossy
    assert (data.images[2] == BLUE).all()                                    # BMP
    assert (data.images[3] == GREY).all()                                    # grey -> RGB
    assert (data.images[4][0, 0] == 255).all()                          # transparent: white
    assert (data.images[4][1:] == GREEN).all()                               # opaque kept
    assert (data.images[5] == RED).all()                                     # GIF (palette)
    assert (data.images[6] == GREEN).all()                                   # WebP lossless


def test_files_that_are_not_images_are_skipped_and_counted(mixed):
    with pytest.warns(SkippedFilesWarning) as caught:
        data = ImageFolder(mixed)
    assert sorted(p.name for p in data.skipped) == ["README.md", "notes.txt"]
    message = str(caught[0].message)
    assert str(mixed) in message and "notes.txt" in message and ".png" in message
    assert len(data) == 7


def test_grayscale_gives_n_h_w(mixed):
    with pytest.warns(SkippedFilesWarning):
        data = ImageFolder(mixed, grayscale=True)
    assert data.images.shape == (7, 6, 8) and data.images.dtype == np.uint8
    expected = np.asarray(Image.fromarray(pattern(6, 8, 0)).convert("L"))
    np.testing.assert_array_equal(data.images[0], expected)
    assert (data.images[3] == GREY).all()


def test_sixteen_bit_grey_is_scaled_not_clipped(root):
    depth16 = (np.arange(16, dtype=np.uint16).reshape(4, 4) * 4369)     # 0 .. 65535
    save(Image.fromarray(depth16), root / "a" / "deep.png")
    data = ImageFolder(root, grayscale=True)
    np.testing.assert_array_equal(data.images[0], np.arange(16).reshape(4, 4) * 17)
    assert (ImageFolder(root).images[0][..., 1] == data.images[0]).all()


def test_class_names_are_sorted_and_labels_follow_them(root):
    for name in ["zebra", "Apple", "mango"]:
        save(solid("RGB", (4, 4), RED), root / name / "x.png")
    data = ImageFolder(root)
    assert data.classes == ("Apple", "mango", "zebra")
    assert [data.classes[y] for y in data.labels] == [p.parent.name for p in data.files]


def test_a_broken_image_is_an_error_naming_it(mixed):
    broken = mixed / "dog" / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedFilesWarning)
        with pytest.raises(DataFileError, match="cannot be decoded") as info:
            ImageFolder(mixed)
    assert str(broken) in str(info.value)


def test_a_truncated_jpeg_is_an_error_naming_it(root):
    path = save(Image.fromarray(pattern(32, 32, 1)), root / "a" / "x.jpg")
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataFileError) as info:
        ImageFolder(root)
    assert str(path) in str(info.value)


def test_differing_sizes_need_image_size(root):
    first = save(solid("RGB", (8, 6), RED), root / "a" / "1.png")
    second = save(solid("RGB", (5, 7), RED), root / "b" / "2.png")
    with pytest.raises(ValueError, match="pass image_size") as info:
        ImageFolder(root)
    message = str(info.value)
    assert str(first) in message and str(second) in message
    assert "6x8 (height x width)" in message and "7x5" in message


def test_image_size_resizes_every_image(root):
    save(Image.fromarray(pattern(6, 8, 2)), root / "a" / "1.png")
    save(solid("RGB", (5, 7), BLUE), root / "b" / "2.png")
    data = ImageFolder(root, image_size=(4, 10))
    assert data.images.shape == (2, 4, 10, 3)
    assert (data.images[1] == BLUE).all()
    square = ImageFolder(root, image_size=6, grayscale=True)
    assert square.images.shape == (2, 6, 6)


def test_image_size_matching_leaves_the_pixels_alone(root):
    save(Image.fromarray(pattern(6, 8, 3)), root / "a" / "1.png")
    data = ImageFolder(root, image_size=(6, 8))
    np.testing.assert_array_equal(data.images[0], pattern(6, 8, 3))


def test_memory_bound_is_checked_before_allocating(root):
    for i in range(3):
        save(solid("RGB", (20, 10), RED), root / "a" / f"{i}.png")
    with pytest.raises(MemoryError, match="pass a smaller image_size"):
        ImageFolder(root, max_bytes=1000)                 # 3 x 10 x 20 x 3 = 1800 bytes
    assert ImageFolder(root, image_size=5, max_bytes=1000).images.shape == (3, 5, 5, 3)


def test_exif_orientation_is_applied(root):
    image = Image.fromarray(pattern(4, 6, 4))                # 4 rows, 6 columns
    exif = Image.Exif()
    exif[0x0112] = 6                                         # "rotate 90 CW to view"
    save(image, root / "a" / "photo.jpg", exif=exif, quality=100)
    data = ImageFolder(root)
    assert data.images.shape == (1, 6, 4, 3)


def test_folder_errors_say_what_is_expected(root):
    with pytest.raises(FileNotFoundError, match="is not a directory"):
        ImageFolder(root / "missing")
    save(solid("RGB", (4, 4), RED), root / "loose.png")
    with pytest.raises(FileNotFoundError, match="root/<class>/<image>"):
        ImageFolder(root)
    (root / "empty_class").mkdir()
    save(solid("RGB", (4, 4), RED), root / "full_class" / "x.png")
    with pytest.raises(ValueError, match="empty_class holds no images"):
        ImageFolder(root)


def test_given_classes_fix_the_labels_and_reject_unknown_folders(root):
    save(solid("RGB", (4, 4), RED), root / "dog" / "x.png")
    data = ImageFolder(root, classes=("cat", "dog", "owl"))
    assert data.labels.tolist() == [1] and data.classes == ("cat", "dog", "owl")
    with pytest.raises(ValueError, match=r"folders \['dog'\] that are not among the classes"):
        ImageFolder(root, classes=("cat",))


def test_loader_gives_rgb_tensors(mixed):
    with pytest.warns(SkippedFilesWarning):
        data = ImageFolder(mixed)
    x, y = next(iter(DataLoader(data, batch_size=7)))
    assert x.shape == (7, 3, 6, 8) and x.dtype == np.float32
    np.testing.assert_allclose(x[2, 2], BLUE[2] / 255, rtol=1e-6)


# ----------------------------------------------------------------------------- splits

def make_classes(root, counts, size=(4, 4)):
    for name, count in counts.items():
        for i in range(count):
            save(Image.fromarray(np.full((*size, 3), i, np.uint8)), root / name / f"{i:03}.png")


def test_train_and_test_folders_are_the_two_splits(root):
    make_classes(root / "train", {"ant": 3, "bee": 4, "cow": 2})
    make_classes(root / "test", {"bee": 2, "cow": 1})     # no "ant" in the test set
    train, test = image_folder_splits(root)
    assert (train.split, test.split) == ("train", "test")
    assert len(train) == 9 and len(test) == 3
    assert test.classes == train.classes == ("ant", "bee", "cow")
    assert test.labels.tolist() == [1, 1, 2]
    assert train.source == str(root / "train") and test.source == str(root / "test")


def test_image_folder_on_a_train_test_layout_points_to_the_splits(root):
    make_classes(root / "train", {"ant": 1})
    make_classes(root / "test", {"ant": 1})
    with pytest.raises(ValueError, match="use image_folder_splits"):
        ImageFolder(root)


def test_one_folder_is_split_reproducibly_disjoint_and_stratified(root):
    make_classes(root, {"ant": 10, "bee": 20, "cow": 30})
    train, test = image_folder_splits(root, test_fraction=0.2, seed=3)
    again_train, again_test = image_folder_splits(root, test_fraction=0.2, seed=3)
    np.testing.assert_array_equal(test.indices, again_test.indices)
    np.testing.assert_array_equal(train.images, again_train.images)
    assert set(train.indices).isdisjoint(test.indices)
    assert sorted([*train.indices, *test.indices]) == list(range(60))
    assert len(test) == 12 and np.bincount(test.labels).tolist() == [2, 4, 6]
    assert (train.split, test.split) == ("train", "test")
    other = image_folder_splits(root, test_fraction=0.2, seed=4)[1]
    assert not np.array_equal(other.indices, test.indices)
    full = ImageFolder(root)
    np.testing.assert_array_equal(test.images, full.images[test.indices])
    np.testing.assert_array_equal(test.labels, full.labels[test.indices])


def test_a_tiny_folder_still_gets_one_test_image(root):
    make_classes(root, {"ant": 2, "bee": 1})
    train, test = image_folder_splits(root, test_fraction=0.1, seed=0)
    assert len(test) == 1 and len(train) == 2


def test_split_rejects_a_bad_fraction(root):
    make_classes(root, {"ant": 2})
    with pytest.raises(ValueError, match="test_fraction must be in"):
        image_folder_splits(root, test_fraction=1.5)
