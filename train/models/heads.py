"""Per-task DPT conv heads: decoder features at 1/2 resolution -> a prediction at input resolution."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .dpt import interp

HEAD_CHANNELS = {"depth": 1, "normals": 3, "alpha": 1}


class Head(nn.Module):
    """DPT head: 3x3 conv F->F/2, bilinear up to (H,W), 3x3 conv ->32, ReLU, 1x1 conv -> C.

    Output activation per task:
      - alpha: sigmoid, so the matte is in [0,1].
      - normals: L2 normalisation over channels, so every pixel is a unit vector.
      - depth: none. DPT ends in ReLU because it predicts non-negative inverse depth; our relative
        depth is compared after a least-squares scale and shift, so a ReLU would only clip
        (and stop gradients for) pixels the alignment could have used.

    The depth head's hidden activation is a leaky ReLU (slope 0.1), not DPT's ReLU. Issue 18:
    in multi-task training all hidden ReLUs of the small model's depth head died within 90
    steps; a dead head outputs a constant, and a constant gets exactly zero gradient from the
    scale-and-shift-aligned loss (the fit is s = 0), so it never recovered and depth stayed
    at the constant baseline. A leaky unit always passes some gradient.
    """

    def __init__(self, task: str, features: int, hidden: int = 32, plane: bool = False) -> None:
        super().__init__()
        if task not in HEAD_CHANNELS:
            raise ValueError(f"unknown task {task!r}; expected one of {sorted(HEAD_CHANNELS)}")
        self.task = task
        self.conv1 = nn.Conv2d(features, features // 2, 3, padding=1)
        self.conv2 = nn.Conv2d(features // 2, hidden, 3, padding=1)
        self.act = nn.LeakyReLU(0.1) if task == "depth" else nn.ReLU()
        self.out = nn.Conv2d(hidden, HEAD_CHANNELS[task], 1)
        if plane and task != "depth":
            raise ValueError(f"a plane term is a depth head option, not {task!r}")
        self.plane = PlaneHead(features) if plane else None

    def forward(self, d: Tensor, size: tuple[int, int]) -> Tensor:
        """d: (B,F,h,w) -> (B,C,H,W) with (H,W) = `size`."""
        y = self.out(self.act(self.conv2(interp(self.conv1(d), size))))
        if self.plane is not None:
            y = y + self.plane(d, size)
        if self.task == "alpha":
            return y.sigmoid()
        if self.task == "normals":
            return F.normalize(y, dim=1, eps=1e-6)
        return y


class PlaneHead(nn.Module):
    """A per-image plane a*x + b*y (x, y in [-1, 1] across the output) added to relative depth.

    A conv decoder is translation-equivariant: a ramp whose slope depends on the picture (a
    body turned to one side, a camera looking down) needs a per-image coefficient times a
    pixel coordinate, a product it can only approximate. Here the two slopes are an
    attention-weighted mean of per-pixel slope features of the decoder map, much as the
    mean of a body's normals gives its tilt. The slope layer starts at zero, so a new model
    starts as the plain head.
    """

    def __init__(self, features: int) -> None:
        super().__init__()
        self.weight = nn.Conv2d(features, 1, 1)
        self.slope = nn.Conv2d(features, 2, 1)
        nn.init.zeros_(self.slope.weight)
        nn.init.zeros_(self.slope.bias)

    def forward(self, d: Tensor, size: tuple[int, int]) -> Tensor:
        """d: (B,F,h,w) -> the plane (B,1,H,W)."""
        w = self.weight(d).flatten(2).softmax(dim=-1)  # (B,1,hw)
        ab = (self.slope(d).flatten(2) * w).sum(-1)  # (B,2)
        ys = torch.linspace(-1.0, 1.0, size[0], dtype=d.dtype, device=d.device).view(1, 1, -1, 1)
        xs = torch.linspace(-1.0, 1.0, size[1], dtype=d.dtype, device=d.device).view(1, 1, 1, -1)
        return ab[:, 0].view(-1, 1, 1, 1) * xs + ab[:, 1].view(-1, 1, 1, 1) * ys
