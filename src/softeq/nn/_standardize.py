"""`Standardize`: a model wrapper that works in standardised units, equivariantly."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _vector(value: Tensor | float, dim: int, name: str) -> Tensor:
    t = torch.as_tensor(value, dtype=torch.float32)
    if t.ndim == 0:
        t = t.expand(dim)
    if t.shape != (dim,) or not torch.isfinite(t).all():
        raise ValueError(
            f"Standardize: {name} must be a finite number or shape ({dim},), "
            f"got {tuple(t.shape)}"
        )
    return t.clone()


class Standardize(nn.Module):
    """Wrap `model` so that it sees standardised inputs and predicts raw targets.

    $f(x) = s_y \\odot \\text{model}(x \\oslash s_x) + \\mu_y$ (EMLP's ``Standardize``).
    Losses and metrics stay in the data's own units; only the wrapped model works in
    units where inputs and targets are of order one, which is what its
    initialisation and learning rate assume.

    $f$ keeps the wrapped model's equivariance when $s_x$ is constant on every copy
    of a tensor type in `rep_in` (a scalar multiple commutes with $\\rho_{in}(g)$),
    $s_y$ likewise on `rep_out`, and $\\mu_y$ is invariant (e.g. any mean of scalar
    outputs). Callers choose such statistics (`softeq.data.vector_scales`); this
    module does not check them.

    Args:
        model: Maps `(batch, d_in)` to `(batch, d_out)`; registered as a submodule.
        x_scale: $s_x$, positive, shape `(d_in,)` or a number.
        y_mean: $\\mu_y$, shape `(d_out,)` or a number.
        y_scale: $s_y$, positive, shape `(d_out,)` or a number.
        d_in: Input width (needed when `x_scale` is a number).
        d_out: Output width (needed when `y_mean`/`y_scale` are numbers).

    Shape:
        Input `(batch, d_in)`, output `(batch, d_out)`.

    Example:
        >>> import torch
        >>> f = Standardize(torch.nn.Linear(2, 1), torch.tensor([2.0, 2.0]),
        ...                 torch.tensor([1.0]), torch.tensor([3.0]), d_in=2, d_out=1)
        >>> f(torch.zeros(4, 2)).shape
        torch.Size([4, 1])
    """

    def __init__(
        self,
        model: nn.Module,
        x_scale: Tensor | float,
        y_mean: Tensor | float,
        y_scale: Tensor | float,
        *,
        d_in: int,
        d_out: int,
    ) -> None:
        super().__init__()
        self.model = model
        x_scale = _vector(x_scale, d_in, "x_scale")
        y_scale = _vector(y_scale, d_out, "y_scale")
        for name, value in (("x_scale", x_scale), ("y_scale", y_scale)):
            if not (value > 0).all():
                raise ValueError(f"Standardize: {name} must be > 0, got {value}")
        self.register_buffer("x_scale", x_scale)
        self.register_buffer("y_mean", _vector(y_mean, d_out, "y_mean"))
        self.register_buffer("y_scale", y_scale)

    def forward(self, x: Tensor) -> Tensor:
        """Predictions in the targets' units.

        Args:
            x: Raw inputs, shape `(batch, d_in)`.

        Returns:
            Shape `(batch, d_out)`.
        """
        if x.shape[-1] != self.x_scale.shape[0]:
            raise ValueError(
                f"Standardize expects inputs of shape (batch, {self.x_scale.shape[0]})"
                f", got {tuple(x.shape)}"
            )
        like = {"dtype": x.dtype, "device": x.device}
        out = self.model(x / self.x_scale.to(**like))
        return out * self.y_scale.to(**like) + self.y_mean.to(**like)

    def extra_repr(self) -> str:
        return f"d_in={self.x_scale.shape[0]}, d_out={self.y_scale.shape[0]}"
