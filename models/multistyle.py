"""One network for several styles: conditional instance norm (Dumoulin, Shlens & Kudlur 2017).

Every instance norm of a style network gets one (scale, shift) row per style; the convolutions are
shared. Training a new style on the shared trunk is mostly training its rows, and the trunk learns from
every painting's steps at once, which is what a CPU's training budget needs. `member(weights)` turns
the network into an ordinary single-style network of the base architecture, whose norm rows are the
weighted sum of the styles' rows: every existing path (ONNX export, the registry, eval) takes it as
it is, and two members of one network blend in weight space exactly as the multi-style network
interpolates between them (only the norm rows differ).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ConditionalInstanceNorm2d(nn.Module):
    def __init__(self, channels: int, styles: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(styles, channels))
        self.bias = nn.Parameter(torch.zeros(styles, channels))
        self.eps = eps
        self.style = 0  # the row forward() uses; set by MultiStyleNetwork.select

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.instance_norm(x, eps=self.eps)
        return y * self.weight[self.style][None, :, None, None] + self.bias[self.style][None, :, None, None]


def _norm_paths(net: nn.Module) -> list[str]:
    return [name for name, m in net.named_modules() if isinstance(m, (nn.InstanceNorm2d, ConditionalInstanceNorm2d))]


def _set_module(root: nn.Module, path: str, module: nn.Module) -> None:
    parent, _, leaf = path.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, leaf, module)


class MultiStyleNetwork(nn.Module):
    """A style network (TransformerNet, FastNet) whose instance norms hold one row per style."""

    def __init__(self, base: nn.Module, styles: int) -> None:
        super().__init__()
        if styles < 2:
            raise ValueError("a multi-style network needs at least 2 styles")
        self.styles = styles
        self.base_arch = base.arch()
        self.norm_paths = _norm_paths(base)
        for path in self.norm_paths:
            norm = base.get_submodule(path)
            cin = ConditionalInstanceNorm2d(norm.num_features, styles, norm.eps)
            with torch.no_grad():  # every style starts as the base network's norm
                cin.weight.copy_(norm.weight.detach().expand(styles, -1))
                cin.bias.copy_(norm.bias.detach().expand(styles, -1))
            _set_module(base, path, cin)
        self.net = base

    def arch(self) -> dict:
        return dict(self.base_arch, styles=self.styles)

    def select(self, style: int) -> None:
        """Which style's rows forward() uses (training runs one style per batch)."""
        if not 0 <= style < self.styles:
            raise IndexError(f"style {style} of {self.styles}")
        for path in self.norm_paths:
            self.net.get_submodule(path).style = style

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def member(self, weights: int | list[float] | torch.Tensor) -> nn.Module:
        """An ordinary network of the base architecture: style `weights` (an index, or one weight per
        style) mixed into plain instance norms."""
        from stylecam.models.networks import create_network

        if isinstance(weights, int):
            mix = torch.zeros(self.styles, dtype=torch.float64)
            mix[weights] = 1.0
        else:
            mix = torch.as_tensor(weights, dtype=torch.float64)
            if mix.shape != (self.styles,):
                raise ValueError(f"need {self.styles} style weights, got {tuple(mix.shape)}")
        plain = create_network(self.base_arch)
        state = {}
        for key, value in self.net.state_dict().items():
            module, _, param = key.rpartition(".")
            if module in self.norm_paths:
                value = (mix @ value.detach().cpu().double()).to(value.dtype)
            state[key] = value.detach().cpu()
        plain.load_state_dict(state)
        return plain.eval()
