"""Turning what a person gives the explorer into a model input: any image file (decoded by
Pillow, bounded in bytes and pixels) or the pixels of the drawing canvas, converted the way
the data set's images look: Fashion-MNIST is a light object on a black background, 28x28
greyscale, the object filling the frame.

Every conversion returns the steps it took, in words, so the page can show them.
"""

from __future__ import annotations

import io

import numpy as np

__all__ = ["ImageError", "MAX_UPLOAD_BYTES", "MAX_UPLOAD_PIXELS", "RASTER_FORMATS",
           "decode_upload", "pixels_from_list"]

#: The formats Pillow may open: raster images only. (Pillow can also open EPS, which runs
#: Ghostscript; an upload must never start a program.) AVIF and HEIF where Pillow has them.
RASTER_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF", "PPM", "ICO", "AVIF")

#: Largest upload accepted, in bytes (a phone photo is 2-8 MB).
MAX_UPLOAD_BYTES = 16 * 1024 * 1024
#: Largest upload accepted, in pixels (width x height), checked before the pixels are decoded:
#: a small file can declare a huge image (a "decompression bomb").
MAX_UPLOAD_PIXELS = 40_000_000


class ImageError(ValueError):
    """The input is not an image the explorer can use; ``status`` is the HTTP status to answer
    with (415: not an image; 413: too large; 400: malformed)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def decode_upload(data: bytes, size=(28, 28), channels: int = 1):
    """Decode an image file and convert it like the data set's images.

    Steps: decode (the raster formats of ``RASTER_FORMATS``; the first frame of an
    animation; upright by its EXIF orientation); flatten any transparency onto white; convert
    to greyscale (``channels == 1``) or RGB; invert when the border is light (the data set's
    objects are light on black); stretch the contrast to 0-255; trim the dark border around
    the object; scale so the longer side fills ``size``, keeping the aspect ratio; centre on
    a black canvas of ``size``. (Fashion-MNIST's product photos were trimmed, scaled to 28
    pixels on the longer side, centred and negated the same way.)

    Parameters
    ----------
    data : the file's bytes
    size : (height, width) of the model's input
    channels : 1 (greyscale) or 3 (RGB)

    Returns
    -------
    pixels : uint8 array (H, W) for one channel, (H, W, 3) for three
    steps : list of str, what was done, in order

    Raises
    ------
    ImageError : not an image (415), too large in bytes or pixels (413), or undecodable (400)
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    Image.init()
    formats = [name for name in RASTER_FORMATS if name in Image.OPEN]
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageError(f"the file has {len(data):,} bytes; the explorer accepts images up to "
                         f"{MAX_UPLOAD_BYTES:,} bytes", 413)
    if not data:
        raise ImageError("the file is empty", 400)
    try:
        image = Image.open(io.BytesIO(data), formats=formats)     # reads the header only
    except UnidentifiedImageError:
        raise ImageError(f"not an image: Pillow cannot read this file as "
                         f"{', '.join(formats)}", 415) from None
    except Image.DecompressionBombError as exc:
        raise ImageError(f"the image is too large ({exc})", 413) from None
    except Exception as exc:     # a damaged header: Pillow raises many kinds of errors
        raise ImageError(f"the image cannot be read ({type(exc).__name__}: {exc})",
                         400) from None
    width, height = image.size
    if width * height > MAX_UPLOAD_PIXELS:
        raise ImageError(f"the image has {width}x{height} = {width * height:,} pixels; the "
                         f"explorer accepts up to {MAX_UPLOAD_PIXELS:,}", 413)
    steps = [f"decoded a {image.format or 'image'} of {width}x{height} pixels, mode "
             f"{image.mode}"]
    try:
        image.seek(0)
        image.load()
        if image.getexif().get(0x0112, 1) != 1:     # a phone photo's EXIF orientation
            image = ImageOps.exif_transpose(image)
            steps.append("turned upright (the file's EXIF orientation)")
    except Exception as exc:     # truncated or damaged data: many kinds of errors
        raise ImageError(f"the image cannot be decoded ({type(exc).__name__}: "
                         f"{' '.join(str(exc).split())})", 400) from None
    width, height = image.size
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):     # 16-bit or float samples
        values = np.asarray(image, dtype=np.float64)
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) / (high - low) * 255 if high > low else np.zeros_like(values)
        image = Image.fromarray(np.rint(scaled).astype(np.uint8), "L")
        steps.append(f"rescaled its {low:g}-{high:g} values to 0-255")

    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and
                                               "transparency" in image.info):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
        steps.append("flattened the transparency onto white")
    mode = "L" if channels == 1 else "RGB"
    if image.mode != mode:
        image = image.convert(mode)
        steps.append("converted to greyscale" if mode == "L" else "converted to RGB")

    grey = np.asarray(image.convert("L"), dtype=np.float64)
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    if np.median(border) > 127:
        image = ImageOps.invert(image)
        steps.append(f"inverted: the border is light (median {np.median(border):.0f} of 255) "
                     f"and the data set's objects are light on black")
    low, high = image.convert("L").getextrema()
    if (low, high) != (0, 255) and high > low:
        image = ImageOps.autocontrast(image)
        steps.append(f"stretched the contrast: {low}-{high} to 0-255 (the background black)")
    # Fashion-MNIST's photos were trimmed to the object before scaling: do the same
    box = Image.eval(image.convert("L"), lambda v: 255 if v > 40 else 0).getbbox()
    if box is not None and (box[2] - box[0], box[3] - box[1]) != image.size:
        image = image.crop(box)
        steps.append(f"trimmed the dark border: kept the {box[2] - box[0]}x{box[3] - box[1]} "
                     f"pixels around the object")
    width, height = image.size

    out_h, out_w = size
    scale = min(out_w / width, out_h / height)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    if (new_w, new_h) != (width, height):
        image = image.resize((new_w, new_h), Image.Resampling.LANCZOS if scale < 1
                             else Image.Resampling.BILINEAR)
        steps.append(f"scaled to {new_w}x{new_h} (the longer side fills {max(out_w, out_h)} "
                     f"pixels, aspect ratio kept)")
    if (new_w, new_h) != (out_w, out_h):
        canvas = Image.new(mode, (out_w, out_h), 0)
        canvas.paste(image, ((out_w - new_w) // 2, (out_h - new_h) // 2))
        image = canvas
        steps.append(f"centred on a black {out_w}x{out_h} canvas")
    pixels = np.asarray(image, dtype=np.uint8).copy()
    steps.append(f"the model's input: {out_w}x{out_h}, values 0-255, then normalised as in "
                 f"training")
    return pixels, steps


def pixels_from_list(values, size=(28, 28), channels: int = 1) -> np.ndarray:
    """The drawing canvas's pixels (a flat list of H*W*channels numbers in 0..255, row by
    row) as a uint8 image (H, W) or (H, W, channels); ImageError (400) otherwise."""
    height, width = size
    expected = height * width * channels
    if not isinstance(values, list) or len(values) != expected:
        got = f"{len(values)} values" if isinstance(values, list) else type(values).__name__
        raise ImageError(f"pixels must be a list of {expected} numbers (a {width}x{height}"
                         f"{'' if channels == 1 else f'x{channels}'} image, row by row), got "
                         f"{got}", 400)
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ImageError("pixels must be numbers in 0..255", 400) from None
    if array.ndim != 1 or not np.all(np.isfinite(array)) or array.min() < 0 \
            or array.max() > 255:
        raise ImageError("pixels must be numbers in 0..255", 400)
    shape = (height, width) if channels == 1 else (height, width, channels)
    return np.rint(array).astype(np.uint8).reshape(shape)
