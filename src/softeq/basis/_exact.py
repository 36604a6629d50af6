"""Float64 master bases on the device they are used on."""

from __future__ import annotations

import torch
from torch import Tensor


def exact_on(
    masters: dict[str, Tensor],
    copies: dict[tuple[str, torch.device], Tensor],
    name: str,
    device: torch.device,
) -> Tensor:
    """The float64 master basis `name` (kept on the CPU, untouched by a module's
    `.to(dtype)`) on `device`: copied there on first use and kept in `copies`,
    so that exact (float64) penalties on a GPU copy no basis per call."""
    master = masters[name]
    if master.device == device:
        return master
    key = (name, device)
    if key not in copies:
        copies[key] = master.to(device)
    return copies[key]
