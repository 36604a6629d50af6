"""Common interface of softeq's models."""

from __future__ import annotations

from torch import Tensor, nn

from ...reps import Rep
from ..functional import check_features, num_parameters


class Model(nn.Module):
    """Base class: a map from `rep_in` features to `rep_out` features.

    Subclasses implement `_forward`; `forward` validates the feature size first.
    """

    def __init__(self, rep_in: Rep, rep_out: Rep) -> None:
        super().__init__()
        self.rep_in, self.rep_out = rep_in, rep_out

    def num_parameters(self) -> int:
        """Number of trainable scalar parameters."""
        return num_parameters(self)

    def forward(self, x: Tensor) -> Tensor:
        name = type(self).__name__
        check_features(name, x, self.rep_in.dim, str(self.rep_in))
        p = next(self.parameters(), None)
        if p is not None and (x.dtype != p.dtype or x.device != p.device):
            raise TypeError(
                f"{name} has {p.dtype} parameters on {p.device} but got {x.dtype} "
                f"input on {x.device}; convert one to match (e.g. model.to(x) or "
                "x.to(next(model.parameters())))"
            )
        return self._forward(x)

    def _forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError
