"""Function-preserving widening (Net2WiderNet, Chen et al. 2016): a trained network becomes a wider one
that computes the same function, so a full-width network can start from a half-width one instead of
from scratch (on a CPU that is hours of VGG passes saved).

Every widened channel group is a copy of the old one, repeated: new channel j is old channel j mod C.
A layer's incoming weights (conv output channels, biases, instance-norm scale and shift) are copied;
its outgoing weights (the next conv's input channels) are split between the copies in random positive
shares that sum to one, so the sum the next layer computes is unchanged. Instance norm keeps copies
identical (same statistics), and the uneven shares give the copies different gradients, so training
pulls them apart and the extra width gets used.
"""
from __future__ import annotations

import torch
from torch import nn


class WidenError(ValueError):
    """The two networks' shapes do not line up for widening."""


def _shares(channels: int, repeats: int, gen: torch.Generator) -> torch.Tensor:
    """Per new input channel, its share of the old channel's weight: repeats copies summing to 1."""
    raw = torch.rand(repeats, channels, generator=gen) + 0.5  # in [0.5, 1.5): uneven, never near 0
    return (raw / raw.sum(0, keepdim=True)).reshape(-1)  # new channel j = copy j // C of old j % C


def widen_state(old: dict[str, torch.Tensor], wide: nn.Module, seed: int = 0) -> dict[str, torch.Tensor]:
    """The state of `wide` that computes what the (narrower, same-architecture) state `old` computes."""
    gen = torch.Generator().manual_seed(seed)
    target = wide.state_dict()
    if set(target) != set(old):
        raise WidenError("the checkpoint and the wider network have different layers")
    out: dict[str, torch.Tensor] = {}
    for key, new in target.items():
        tensor = old[key].to(new.dtype)
        for dim, (n_old, n_new) in enumerate(zip(tensor.shape, new.shape)):
            if n_new == n_old:
                continue
            if n_new % n_old:
                raise WidenError(f"{key}: {n_old} channels cannot widen to {n_new}")
            repeats = n_new // n_old
            tensor = torch.cat([tensor] * repeats, dim=dim)
            if dim == 1 and tensor.dim() == 4:  # a conv's input channels: split the weight between copies
                tensor = tensor * _shares(n_old, repeats, gen).view(1, -1, 1, 1)
        if tensor.shape != new.shape:
            raise WidenError(f"{key}: shape {tuple(old[key].shape)} does not widen to {tuple(new.shape)}")
        out[key] = tensor.contiguous()
    return out
