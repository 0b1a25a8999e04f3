"""Run a checkpoint or a release-contract ONNX model on images and write maps and applications.

Both backends see the same input: the image padded to square by replicating its border
(centred, as DAViD's runtime does), resized to 512x512, RGB float in [0,1]; the ONNX
backend flips it to BGR for the contract. Outputs are resized back to the square and the
padding cropped away, so every written map has the input image's size.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image
from synthhuman.train import applications as app
from synthhuman.train.image_input import read_image

from synthhuman.codecs import encode_exr, encode_png, quantise_unit, vector_exr_channels
from synthhuman.errors import UserError
from synthhuman.outdir import prepare_output_dir

TASK_ORDER = ("depth", "normals", "alpha")
CHANNELS = {"depth": 1, "normals": 3, "alpha": 1}


class Backend(Protocol):
    """rgb (N,3,S,S) float32 RGB in [0,1] -> {task: (N,C,S,S) float32}."""

    tasks: tuple[str, ...]

    def __call__(self, rgb: np.ndarray) -> dict[str, np.ndarray]: ...


class TorchBackend:
    """A synthhuman checkpoint, run with PyTorch (no_grad, float32)."""

    def __init__(self, checkpoint: str | Path, device: str = "cpu") -> None:
        import torch
        from synthhuman.train.checkpoint import model_from_checkpoint

        self.torch, self.device = torch, torch.device(device)
        self.model, _ = model_from_checkpoint(checkpoint)
        self.model.to(self.device)
        self.tasks = tuple(self.model.tasks)

    def __call__(self, rgb: np.ndarray) -> dict[str, np.ndarray]:
        with self.torch.no_grad():
            out = self.model(self.torch.from_numpy(np.ascontiguousarray(rgb)).to(self.device))
        return {k: v.float().cpu().numpy() for k, v in out.items()}


class OnnxBackend:
    """An ONNX file in the DAViD release contract: ours (`export`) or a released DAViD model.

    Outputs are matched to tasks by our metadata, else by name (depth / normal / foreground,
    alpha, seg, matt), else by position for three outputs (the release's multi-task order),
    else by `task` for a single output.
    """

    def __init__(self, path: str | Path, task: str | None = None) -> None:
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise UserError(f"ONNX file not found: {path}")
        try:
            self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise UserError(f"cannot load ONNX model {path}: {str(exc).splitlines()[0]}") from None
        self.input_name = self.session.get_inputs()[0].name
        names = [o.name for o in self.session.get_outputs()]
        meta = self.session.get_modelmeta().custom_metadata_map
        self.output_tasks = _match_outputs(names, meta.get("tasks", ""), task, path)
        self.tasks = tuple(t for t in TASK_ORDER if t in self.output_tasks)
        from synthhuman.train.export import depth_sign

        # Release depth = sign * ours (larger = farther): recorded by our export; a released DAViD
        # file without it follows the same per-kind rule (single-task negated, multi-task not).
        self.depth_sign = float(meta.get("depth_sign", depth_sign(tuple(self.output_tasks))))
        shape = self.session.get_inputs()[0].shape
        self.fixed_batch = shape[0] if isinstance(shape[0], int) else None
        self.fixed_hw = tuple(shape[2:]) if all(isinstance(d, int) for d in shape[2:]) else None

    def __call__(self, rgb: np.ndarray) -> dict[str, np.ndarray]:
        """N x 3 x H x W RGB in [0, 1] -> {task: N x C x H x W}, in our conventions.

        A file with a fixed batch (the release's is 1) is run image by image; one with a fixed
        H x W gets the input resized to it and its outputs resized back (bilinear).
        """
        if self.fixed_batch is not None and rgb.shape[0] != self.fixed_batch:
            parts = [self(rgb[i:i + self.fixed_batch]) for i in range(0, rgb.shape[0], self.fixed_batch)]
            return {t: np.concatenate([p[t] for p in parts]) for t in parts[0]}
        bgr = np.ascontiguousarray(rgb[:, ::-1], dtype=np.float32)
        size = tuple(rgb.shape[2:])
        if self.fixed_hw is not None and size != self.fixed_hw:
            bgr = _resize(bgr, self.fixed_hw)
        outputs = self.session.run(None, {self.input_name: bgr})
        result = {}
        for task, value in zip(self.output_tasks, outputs, strict=True):
            value = np.asarray(value, dtype=np.float32)
            value = value[:, None] if value.ndim == 3 else value
            if tuple(value.shape[2:]) != size:
                value = _resize(value, size)
            if task == "depth":
                value = value * self.depth_sign
            result[task] = value
        return result


def _resize(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of N x C x H x W float maps (torch, as the models resize)."""
    import torch
    import torch.nn.functional as F

    return F.interpolate(torch.from_numpy(np.ascontiguousarray(maps)), size=size, mode="bilinear",
                         align_corners=False).numpy()


def _match_outputs(names: list[str], meta_tasks: str, task: str | None, path: Path) -> list[str]:
    if meta_tasks and len(meta_tasks.split(",")) == len(names):
        return meta_tasks.split(",")
    keywords = {
        "depth": ("depth",),
        "normals": ("normal",),
        "alpha": ("fore", "alpha", "seg", "matt", "mask"),
    }
    found = [
        next((t for t, keys in keywords.items() if any(k in n.lower() for k in keys)), None) for n in names
    ]
    if all(found) and len(set(found)) == len(found):
        return found  # type: ignore[return-value]
    if len(names) == 3:
        return list(TASK_ORDER)
    if len(names) == 1 and task in CHANNELS:
        return [task]
    raise UserError(
        f"cannot tell which task the outputs {names} of {path} are; pass --task depth|normals|alpha"
    )


def load_backend(
    checkpoint: str | None = None, onnx: str | None = None, task: str | None = None, device: str = "cpu"
) -> Backend:
    """Exactly one of `checkpoint` / `onnx`."""
    if (checkpoint is None) == (onnx is None):
        raise UserError("give exactly one of --checkpoint or --onnx")
    return TorchBackend(checkpoint, device) if checkpoint else OnnxBackend(onnx, task)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- pre/post-processing


@dataclass(frozen=True)
class SquareFrame:
    """Where the original image sits inside its replicate-padded square."""

    height: int
    width: int
    top: int
    left: int

    @property
    def side(self) -> int:
        return max(self.height, self.width)


def pad_square(image: np.ndarray) -> tuple[np.ndarray, SquareFrame]:
    """Centre (H,W[,C]) in a square by replicating its border, exactly as the training data is."""
    from synthhuman.train.data import pad_to_square, square_padding

    h, w = image.shape[:2]
    top, _, left, _ = square_padding(h, w)
    return pad_to_square(image), SquareFrame(h, w, top, left)


def to_model_input(rgb: np.ndarray, size: int = 512) -> tuple[np.ndarray, SquareFrame]:
    """uint8 (H,W,3) -> (1,3,size,size) float32 in [0,1], and the frame to undo it."""
    square, frame = pad_square(rgb)
    resized = np.asarray(Image.fromarray(square).resize((size, size), Image.BILINEAR), dtype=np.float32)
    return (resized / 255.0).transpose(2, 0, 1)[None], frame


def from_model_output(value: np.ndarray, frame: SquareFrame) -> np.ndarray:
    """(C,S,S) -> (H,W) for one channel or (H,W,C): bilinear back to the square, padding cropped."""
    side = frame.side
    channels = [
        np.asarray(Image.fromarray(c.astype(np.float32), mode="F").resize((side, side), Image.BILINEAR))
        for c in value
    ]
    out = np.stack(channels, axis=-1)[
        frame.top : frame.top + frame.height, frame.left : frame.left + frame.width
    ]
    return out[..., 0] if out.shape[-1] == 1 else out


def predict_image(backend: Backend, rgb: np.ndarray, size: int = 512) -> dict[str, np.ndarray]:
    """{task: map at the image's size}: depth (H,W), normals (H,W,3) unit, alpha (H,W) in [0,1]."""
    x, frame = to_model_input(rgb, size)
    maps = {task: from_model_output(value[0], frame) for task, value in backend(x).items()}
    if "normals" in maps:
        n = maps["normals"]
        maps["normals"] = n / np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-6)
    if "alpha" in maps:
        maps["alpha"] = np.clip(maps["alpha"], 0.0, 1.0)
    return maps


# ---------------------------------------------------------------------- writing results


@dataclass
class PredictOptions:
    size: int = 512  # model input side (the release contract's 512)
    light_dir: tuple[float, float, float] = (0.5, 0.5, 1.0)  # towards the light, camera frame
    ambient: float = 0.25
    background: str | None = None  # image path or colour; background replacement when set
    fov_deg: float = 50.0  # horizontal field of view for the point cloud
    near_m: float = 2.0  # guessed distance of the nearest foreground point
    range_m: float = 0.5  # guessed depth extent of the subject
    invert_depth: bool = False  # the model's depth grows towards the camera


def write_outputs(
    rgb: np.ndarray, maps: dict[str, np.ndarray], out: Path, stem: str, opts: PredictOptions
) -> list[Path]:
    """Write maps (EXR values + PNG views) and the applications they allow; returns the paths."""
    written: list[Path] = []

    def put(name: str, data: bytes) -> None:
        written.append(write_file(out / f"{stem}_{name}", data))

    image = rgb.astype(np.float32) / 255.0
    alpha = maps.get("alpha")
    mask = alpha > 0.5 if alpha is not None else None
    if alpha is not None:
        put("alpha.png", encode_png(quantise_unit(alpha, np.uint16)))
        if opts.background is not None:
            bg = app.load_background(opts.background, *alpha.shape)
            put("composite.png", encode_png(app.to_uint8(app.replace_background(image, alpha, bg))))
    if "normals" in maps:
        n = maps["normals"]
        put("normal.exr", encode_exr(vector_exr_channels(n), "float32"))
        put("normal.png", encode_png(app.normals_png(n, mask)))
        relit = app.relight(image, n, np.asarray(opts.light_dir), opts.ambient, alpha)
        put("relit.png", encode_png(app.to_uint8(relit)))
    if "depth" in maps:
        d = maps["depth"]
        put("depth.exr", encode_exr({"Y": d}, "float32"))
        put("depth.png", encode_png(app.depth_png(d, mask, opts.invert_depth)))
        keep = mask if mask is not None else np.ones(d.shape, bool)
        metric = app.depth_to_metric(d, keep, opts.near_m, opts.range_m, opts.invert_depth)
        K = app.intrinsics_from_fov(*d.shape, opts.fov_deg)
        points, colours = app.point_cloud(metric, keep, K, image)
        ply = out / f"{stem}_points.ply"
        try:
            app.write_ply(ply, points, colours)
        except OSError as exc:
            raise _unwritable(ply, exc) from None
        written.append(ply)
    return written


def write_file(path: Path, data: bytes) -> Path:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise _unwritable(path, exc) from None
    return path


def _unwritable(path: Path, exc: OSError) -> UserError:
    return UserError(f"cannot write {path}: {exc.strerror or exc}")


def output_stems(images: list[str]) -> list[str]:
    """One distinct output stem per input, in order: STEM, or STEM-2, STEM-3... for later inputs
    whose stem is taken (a/x.png and b/x.jpg would otherwise overwrite each other's files)."""
    taken: set[str] = set()
    stems = []
    for path in images:
        base = stem = Path(path).stem
        n = 1
        while stem.lower() in taken:  # case-insensitive filesystems would merge X and x
            n += 1
            stem = f"{base}-{n}"
        taken.add(stem.lower())
        stems.append(stem)
    return stems


def predict_files(
    backend: Backend, images: list[str], out_dir: str | Path, opts: PredictOptions
) -> list[Path]:
    """Predict every image into `out_dir`; writes `predict.json` recording the settings and
    which output stem each input got. Returns the distinct files written."""
    if opts.background is not None and "alpha" not in backend.tasks:
        raise UserError("--background needs a model that predicts alpha (task alpha or multi)")
    out = prepare_output_dir(out_dir)  # a file, read-only or empty: one line
    stems = output_stems(images)
    written: list[Path] = []
    for path, stem in zip(images, stems, strict=True):
        rgb = read_image(path)
        written += write_outputs(rgb, predict_image(backend, rgb, opts.size), out, stem, opts)
    settings = {
        "tasks": list(backend.tasks),
        "images": [str(p) for p in images],
        "stems": [[str(p), stem] for p, stem in zip(images, stems, strict=True)],
        **opts.__dict__,
    }
    written.append(write_file(out / "predict.json", json.dumps(settings, indent=1, default=list).encode()))
    return list(dict.fromkeys(written))
