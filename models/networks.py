"""Architecture name -> network class, so checkpoints can say what they hold (timm-style registry)."""
from __future__ import annotations

from typing import Callable

from torch import nn

from stylecam.models.fast_net import FastNet
from stylecam.models.transformer_net import TransformerNet

_ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {
    "transformer_net": TransformerNet,
    "fast_net": FastNet,
}


def architectures() -> list[str]:
    return sorted(_ARCHITECTURES)


def arch_text(arch: dict) -> str:
    """'transformer_net w16 b5': an architecture dict as `stylecam styles` and error messages show it."""
    text = f"{arch.get('name', '?')} w{arch.get('width', '?')} b{arch.get('blocks', '?')}" + (" skips" if arch.get("skips") else "")
    return text + (f" x{arch['styles']} styles" if arch.get("styles") else "")


def network_class(arch: dict) -> type:
    """The class an architecture dict names (its size_multiple and min_size tell what inputs it takes)."""
    name = arch.get("name", "transformer_net")
    if name not in _ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r} (known: {', '.join(architectures())})")
    return _ARCHITECTURES[name]


def create_network(arch: dict) -> nn.Module:
    """Build an untrained network from an architecture dict such as {"name": "transformer_net", "width": 16}."""
    params = dict(arch)
    name = params.pop("name", "transformer_net")
    styles = params.pop("styles", None)  # several styles in one network (models/multistyle.py)
    if name not in _ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r} (known: {', '.join(architectures())})")
    try:
        net = _ARCHITECTURES[name](**params)
    except TypeError as exc:
        raise ValueError(f"bad parameters for architecture {name!r}: {exc}") from None
    if styles is None:
        return net
    from stylecam.models.multistyle import MultiStyleNetwork

    return MultiStyleNetwork(net, int(styles))


def unmatched_prefix(prefixes: list[str], names: list[str]) -> str | None:
    """'no parameter of this network starts with P (they start with a, b, ...)' for the first of `prefixes`
    that names none of the parameters `names` (blend's --layer-weights, the trainer's --freeze); None if all do."""
    for prefix in prefixes:
        if not any(name.startswith(prefix) for name in names):
            groups = ", ".join(sorted({name.split(".")[0] for name in names}))
            return f"no parameter of this network starts with {prefix} (they start with {groups})"
    return None
