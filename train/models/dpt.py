"""DPT decoder pieces: ResidualConvUnit, Reassemble (readout + resample) and the DAViD FusionBlock."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def interp(x: Tensor, size: tuple[int, int] | torch.Size) -> Tensor:
    """Bilinear resize to an explicit size (ONNX Resize with static scales or sizes)."""
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class ResidualConvUnit(nn.Module):
    """RConv: x + conv(relu(conv(relu(x)))), 3x3 convs, shape preserving (DPT `blocks.py`)."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(features, features, 3, padding=1)
        self.conv2 = nn.Conv2d(features, features, 3, padding=1)
        self.act = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(self.act(self.conv1(self.act(x))))


class Readout(nn.Module):
    """Read_proj of DPT: e_i = GELU(Linear(cat(CLS, t_i))). (B,D,g,g) + (B,1,D) -> (B,D,g,g)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.project = nn.Sequential(nn.Linear(2 * dim, dim), nn.GELU())

    def forward(self, grid: Tensor, cls: Tensor) -> Tensor:
        b, d, h, w = grid.shape
        tokens = grid.flatten(2).transpose(1, 2)
        tokens = self.project(torch.cat([tokens, cls.expand(-1, h * w, -1)], dim=-1))
        return tokens.transpose(1, 2).reshape(b, d, h, w)


class Reassemble(nn.Module):
    """Tokens of one ViT block -> an image-like map at scale s relative to the patch grid.

    (B,D,g,g) + CLS -> (B,features,s*g,s*g) with s in {4, 2, 1, 1/2}: readout, 1x1 conv to
    `width` channels, transposed conv (up) or stride-2 conv (down), then DPT's `layerN_rn`
    3x3 conv to the decoder width.
    """

    def __init__(self, dim: int, width: int, features: int, scale: float) -> None:
        super().__init__()
        self.readout = Readout(dim)
        self.project = nn.Conv2d(dim, width, 1)
        if scale > 1:
            k = int(scale)
            self.resample: nn.Module = nn.ConvTranspose2d(width, width, kernel_size=k, stride=k)
        elif scale == 1:
            self.resample = nn.Identity()
        else:
            self.resample = nn.Conv2d(width, width, 3, stride=2, padding=1)
        self.to_features = nn.Conv2d(width, features, 3, padding=1, bias=False)

    def forward(self, grid: Tensor, cls: Tensor) -> Tensor:
        return self.to_features(self.resample(self.project(self.readout(grid, cls))))


class FusionBlock(nn.Module):
    """The paper's decoder block (eq. 2), DPT's fusion block with a Resizer input:

        d_int = RConv(d_prev + Interp(RConv(e)))
        d     = Conv([r, Interp(d_int)])

    Interp is bilinear to d_prev's size and then to the resizer feature's size; Conv is a 3x3
    conv + ReLU over the concatenation. The deepest block has no d_prev.
    """

    def __init__(self, features: int, resizer_width: int) -> None:
        super().__init__()
        self.rconv_enc = ResidualConvUnit(features)
        self.rconv_fuse = ResidualConvUnit(features)
        self.conv = nn.Conv2d(features + resizer_width, features, 3, padding=1)
        self.act = nn.ReLU()

    def forward(self, e: Tensor, r: Tensor, d_prev: Tensor | None = None) -> Tensor:
        """e: (B,F,he,we), r: (B,Cr,hr,wr), d_prev: (B,F,hp,wp) or None -> d: (B,F,hr,wr)."""
        x = self.rconv_enc(e)
        if d_prev is not None:
            x = d_prev + interp(x, d_prev.shape[-2:])
        d_int = self.rconv_fuse(x)
        return self.act(self.conv(torch.cat([r, interp(d_int, r.shape[-2:])], dim=1)))
