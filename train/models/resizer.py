"""Resizer: a light conv encoder on the full-resolution input that carries detail to the decoder."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from torch import Tensor, nn


class ResizerBlock(nn.Module):
    """g^l: halves the resolution. (B,C_in,H,W) -> (B,C_out,H/2,W/2).

    A stride-2 3x3 conv then a 3x3 conv, each followed by ReLU; no normalisation layer, so the
    block behaves the same at batch 1 (inference, ONNX) as in training.
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.down = nn.Conv2d(c_in, c_out, 3, stride=2, padding=1)
        self.conv = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.act = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.conv(self.act(self.down(x))))


class Resizer(nn.Module):
    """Four stacked ResizerBlocks, r^l = g^l(r^{l-1}), r^0 = the normalised input image.

    Runs on any input size (H, W multiples of 16), unlike the ViT which sees a fixed square.
    """

    def __init__(self, widths: Sequence[int]) -> None:
        super().__init__()
        chans = [3, *widths]
        self.blocks = nn.ModuleList([ResizerBlock(a, b) for a, b in pairwise(chans)])
        self.widths = tuple(widths)

    def forward(self, x: Tensor) -> list[Tensor]:
        """x: (B,3,H,W) -> [r^1 (B,w1,H/2,W/2), ..., r^4 (B,w4,H/16,W/16)]."""
        feats = []
        for block in self.blocks:
            x = block(x)
            feats.append(x)
        return feats
