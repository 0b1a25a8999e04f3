"""Plain-torch ViT encoder (timm state-dict layout) and loading of user-supplied ViT weights."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# Prefixes that wrap a timm ViT inside common checkpoints: DDP, DPT ("pretrained.model."), ours.
_KEY_PREFIXES = ("module.", "pretrained.model.", "model.", "encoder.", "backbone.")


class PatchEmbed(nn.Module):
    """Non-overlapping patches -> tokens: (B,3,S,S) -> (B,(S/p)^2,D)."""

    def __init__(self, patch: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    """Multi-head self-attention with a fused qkv projection, as timm names it."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        """x: (B,N,D) -> (B,N,D)."""
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block (LayerNorm eps 1e-6 as timm's ViT)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VisionTransformer(nn.Module):
    """ViT on a fixed square input with one CLS token.

    The final `norm` of timm's ViT is left out: DPT reads block outputs before it, so it would be
    an unused parameter (which breaks DDP); timm's `prune_intermediate_layers` drops it likewise.
    """

    def __init__(self, img_size: int, patch: int, dim: int, depth: int, heads: int) -> None:
        super().__init__()
        if img_size % patch:
            raise ValueError(f"encoder input {img_size} is not a multiple of the patch size {patch}")
        self.img_size, self.patch, self.dim = img_size, patch, dim
        self.grid = img_size // patch
        self.patch_embed = PatchEmbed(patch, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.grid**2, dim))
        self.blocks = nn.ModuleList([Block(dim, heads) for _ in range(depth)])
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        self.apply(_init_weights)

    def forward_intermediates(self, x: Tensor, indices: Sequence[int],
                              return_prefix_tokens: bool = False) -> list[Tensor] | list[tuple[Tensor, Tensor]]:
        """Outputs of the blocks in `indices` as NCHW maps (timm's `forward_intermediates` shape).

        Args:
            x: (B,3,S,S) normalised image at the encoder size S.
            indices: block indices (negative counts from the end); returned in ascending order.
            return_prefix_tokens: pair each map with its CLS token (B,1,D), as DPT's readout needs.
        Returns:
            One features (B,D,S/p,S/p) map, or (map, cls) pair, per index.
        """
        wanted = sorted(i % len(self.blocks) for i in indices)
        b = x.shape[0]
        tokens = torch.cat([self.cls_token.expand(b, -1, -1), self.patch_embed(x)], dim=1)
        tokens = tokens + self.pos_embed
        out = []
        for i, block in enumerate(self.blocks[: wanted[-1] + 1]):
            tokens = block(tokens)
            if i in wanted:
                grid = tokens[:, 1:].transpose(1, 2).reshape(b, self.dim, self.grid, self.grid)
                out.append((grid, tokens[:, :1]) if return_prefix_tokens else grid)
        return out


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        nn.init.zeros_(module.bias)


def resample_pos_embed(pos_embed: Tensor, grid: int) -> Tensor:
    """Bicubic, antialiased (timm's default) resampling of a (1,1+g*g,D) position table to (1,1+grid*grid,D), CLS kept."""
    old = math.isqrt(pos_embed.shape[1] - 1)
    if old * old != pos_embed.shape[1] - 1:
        raise ValueError(f"pos_embed with {pos_embed.shape[1]} tokens is not 1 CLS + a square grid")
    if old == grid:
        return pos_embed
    cls, table = pos_embed[:, :1], pos_embed[:, 1:]
    table = table.reshape(1, old, old, -1).permute(0, 3, 1, 2).float()
    table = F.interpolate(table, size=(grid, grid), mode="bicubic", align_corners=False,
                          antialias=True)  # timm's resample_abs_pos_embed default
    table = table.permute(0, 2, 3, 1).reshape(1, grid * grid, -1).to(pos_embed.dtype)
    return torch.cat([cls, table], dim=1)


def read_state_dict(path: str | Path) -> dict[str, Tensor]:
    """Tensors of a .safetensors or torch .pth/.pt file, unwrapping a 'model'/'state_dict' entry."""
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    obj = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):
        if isinstance(obj, Mapping) and key in obj and isinstance(obj[key], Mapping):
            obj = obj[key]
    return {k: v for k, v in obj.items() if isinstance(v, Tensor)}


def _strip(key: str) -> str:
    """`key` without its first known wrapper prefix."""
    for prefix in _KEY_PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix):]
    return key


def _own_key(key: str, own: Mapping[str, Tensor]) -> str:
    """`key` without a wrapper prefix when that names one of our parameters."""
    for prefix in _KEY_PREFIXES:
        if key.startswith(prefix) and key[len(prefix):] in own:
            return key[len(prefix):]
    return key


def encoder_state_from(state: Mapping[str, Tensor], vit: VisionTransformer) -> dict[str, Tensor]:
    """Map a timm/DPT-style ViT state dict onto `vit`: strip wrappers, resample pos_embed, check shapes.

    Raises:
        ValueError: listing missing keys and shape mismatches, so a wrong model size is obvious.
    """
    own = vit.state_dict()
    mapped = {_own_key(k, own): v for k, v in state.items() if _own_key(k, own) in own}
    if "pos_embed" in mapped and mapped["pos_embed"].shape[-1] == vit.dim:
        mapped["pos_embed"] = resample_pos_embed(mapped["pos_embed"], vit.grid)
    foreign = sorted(k for k in state if _own_key(k, own) not in own and _strip(k).startswith("blocks."))
    if foreign:
        raise ValueError(f"checkpoint blocks hold parameters this plain ViT lacks (layer scale, qk-norm?): "
                         f"{foreign[:5]}")
    missing = sorted(set(own) - set(mapped))
    wrong = [f"{k}: file {tuple(v.shape)} vs model {tuple(own[k].shape)}"
             for k, v in mapped.items() if v.shape != own[k].shape]
    if missing or wrong:
        raise ValueError(
            "checkpoint does not fit the ViT encoder "
            f"(dim {vit.dim}, depth {len(vit.blocks)}, patch {vit.patch}); "
            f"{len(missing)} missing keys {missing[:5]}; {len(wrong)} shape mismatches {wrong[:5]}"
        )
    return mapped


def load_pretrained_encoder(model: nn.Module, path: str | Path) -> list[str]:
    """Load a user-supplied timm-style ViT checkpoint into `model.encoder` (or a bare ViT).

    Returns the checkpoint keys that were not used (e.g. `head.weight`, `norm.bias`).
    """
    vit = model if isinstance(model, VisionTransformer) else model.encoder
    state = read_state_dict(path)
    mapped = encoder_state_from(state, vit)
    vit.load_state_dict(mapped, strict=True)
    return sorted(k for k in state if _own_key(k, mapped) not in mapped)
