"""predict on awkward inputs and outputs: shared stems, high-bit-depth and transparent images,
unwritable --out. Images are written by Pillow (or as raw PNG bytes where Pillow cannot write
the format), so the reader is tested against real files, not our idea of them."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")

from synthhuman.train.checkpoint import save_checkpoint
from synthhuman.train.image_input import read_image
from synthhuman.train.models import build_model

from synthhuman.cli import main as cli_main
from synthhuman.errors import UserError

pytestmark = pytest.mark.train


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "multi.pt", build_model("small", "multi"), step=0)


def predict(checkpoint: Path, out: Path, *images: Path) -> list[str]:
    return ["predict", "--checkpoint", str(checkpoint), *map(str, images), "--out", str(out), "--size", "64"]


def png16(pixels: np.ndarray) -> bytes:
    """A 16-bit PNG (grey, grey+alpha, RGB or RGBA by channel count), bytes written by hand:
    Pillow cannot write 16-bit colour PNGs."""
    h, w, c = pixels.shape
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    raw = b"".join(b"\0" + pixels[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


# ---------------------------------------------------------------------- shared stems


def test_inputs_sharing_a_stem_get_distinct_outputs(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    rng = np.random.default_rng(1)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = tmp_path / "a" / "x.png", tmp_path / "b" / "x.jpg"
    Image.fromarray(rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)).save(first)
    Image.fromarray(np.full((40, 30, 3), 200, np.uint8)).save(second)
    out = tmp_path / "out"
    assert cli_main(predict(checkpoint, out, first, second)) == 0
    printed = capsys.readouterr().out
    files = sorted(p.name for p in out.iterdir())
    assert f"wrote {len(files)} files" in printed, (printed, files)  # the count is what exists
    assert "written as x-2_*" in printed
    ours, theirs = (sorted(f for f in files if f.startswith(s + "_")) for s in ("x", "x-2"))
    assert len(ours) == len(theirs) == 7 and [f[2:] for f in ours] == [f[4:] for f in theirs]
    # each input's own prediction, not the second written over the first
    assert (out / "x_alpha.png").read_bytes() != (out / "x-2_alpha.png").read_bytes()


# ---------------------------------------------------------------------- bit depth and modes


def test_16_bit_grey_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    grey = (np.arange(40 * 30).reshape(40, 30) * 54).astype(np.uint16)  # 0 .. 64746
    path = tmp_path / "grey16.png"
    Image.fromarray(grey).save(path)  # Pillow writes mode I;16 as a 16-bit grey PNG
    rgb = read_image(path)
    expected = np.round(grey / 65535.0 * 255).astype(np.uint8)
    assert rgb.dtype == np.uint8 and rgb.shape == (40, 30, 3)
    assert np.array_equal(rgb, np.repeat(expected[..., None], 3, axis=-1))
    assert (rgb == 255).mean() < 0.01  # Pillow's own convert("RGB") made 99.6% of them 255


def test_16_bit_colour_png_keeps_its_colours(tmp_path: Path) -> None:
    pixels = np.random.default_rng(2).integers(0, 65536, (20, 16, 3)).astype(np.uint16)
    path = tmp_path / "rgb16.png"
    path.write_bytes(png16(pixels))
    rgb = read_image(path)
    assert np.abs(rgb.astype(int) - np.round(pixels / 257.0)).max() <= 1


@pytest.mark.parametrize("mode", ["RGBA", "LA", "LA16", "P"])
def test_transparent_pixels_are_composited_over_white(mode: str, tmp_path: Path) -> None:
    """Left half opaque red (or grey), right half fully transparent but holding black."""
    path = tmp_path / "t.png"
    alpha = np.zeros((8, 8), np.uint8)
    alpha[:, :4] = 255
    if mode == "RGBA":
        colour = np.zeros((8, 8, 3), np.uint8)
        colour[:, :4] = (255, 0, 0)
        Image.fromarray(np.dstack([colour, alpha]), "RGBA").save(path)
        opaque = (255, 0, 0)
    elif mode == "LA":
        Image.fromarray(np.dstack([np.full((8, 8), 100, np.uint8), alpha]), "LA").save(path)
        opaque = (100, 100, 100)
    elif mode == "LA16":
        pixels = np.dstack([np.full((8, 8), 100 * 257), alpha.astype(np.uint16) * 257]).astype(np.uint16)
        path.write_bytes(png16(pixels))
        opaque = (100, 100, 100)
    else:
        image = Image.fromarray((alpha == 0).astype(np.uint8), "P")  # index 1 is transparent
        image.putpalette([0, 0, 255, 0, 0, 0] + [0] * 762)
        image.save(path, transparency=1)
        opaque = (0, 0, 255)
    rgb = read_image(path)
    assert (rgb[:, :4] == opaque).all() and (rgb[:, 4:] == 255).all()


def test_float_tiff_and_exr(tmp_path: Path) -> None:
    path = tmp_path / "f.tiff"
    Image.fromarray(np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)).save(path)
    rgb = read_image(path)
    assert np.array_equal(rgb[..., 0], np.round(np.linspace(0, 1, 64).reshape(8, 8) * 255).astype(np.uint8))
    (tmp_path / "x.exr").write_bytes(b"v/1\x01")
    with pytest.raises(UserError, match="EXR .* not supported"):
        read_image(tmp_path / "x.exr")


# ---------------------------------------------------------------------- unwritable --out


def _one_line_error(capsys: pytest.CaptureFixture) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("synthhuman: error:"), err
    return err


def test_unwritable_predict_out_is_one_line(checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    image = tmp_path / "p.png"
    Image.fromarray(np.zeros((16, 12, 3), np.uint8)).save(image)
    a_file = tmp_path / "file"
    a_file.write_text("keep me")
    assert cli_main(predict(checkpoint, a_file, image)) == 2
    assert f"--out {a_file} exists and is not a directory" in _one_line_error(capsys) and a_file.read_text() == "keep me"

    blocked = tmp_path / "blocked"
    (blocked / "p_depth.exr").mkdir(parents=True)  # a directory where a file must go
    assert cli_main(predict(checkpoint, blocked, image)) == 2
    assert f"cannot write {blocked / 'p_depth.exr'}" in _one_line_error(capsys)


def test_read_only_predict_out_is_one_line(checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """/sys is a filesystem nobody, root included, may create files in."""
    target = Path("/sys/synthhuman-test-out")
    if target.exists():
        pytest.skip("/sys accepts new entries here")
    image = tmp_path / "p.png"
    Image.fromarray(np.zeros((16, 12, 3), np.uint8)).save(image)
    assert cli_main(predict(checkpoint, target, image)) == 2
    assert "cannot write to --out /sys/synthhuman-test-out" in _one_line_error(capsys)
