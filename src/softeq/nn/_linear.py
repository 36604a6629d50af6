"""Linear maps between representations: hard (`EquivariantLinear`), soft
(`SoftLinear`, penalised per candidate group) and residual-pathway (`RPPLinear`)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..basis import BlockProjector, MultiProjector
from ..groups import Group, as_group
from ..reps import Rep
from .functional import check_features


def _check_input(module: nn.Module, x: Tensor, rep_in: Rep) -> None:
    check_features(type(module).__name__, x, rep_in.dim, str(rep_in))


def dense_init(
    n_out: int, n_in: int, *, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """Reference init: orthogonal `W (n_out, n_in)`, `b ~ U(0, 1) / sqrt(n_out)`."""
    W = torch.empty(n_out, n_in)
    nn.init.orthogonal_(W, generator=generator)
    b = torch.rand(n_out, generator=generator) / n_out**0.5
    return W, b


class EquivariantLinear(nn.Module):
    """Hard-equivariant linear map: $W = \\sum_k \\theta_k B_k$ over a basis of
    $Hom_G(\\rho_{in}, \\rho_{out})$, bias over the invariant vectors of $\\rho_{out}$.

    Parameters are the basis coefficients only (`rank + bias_rank` numbers), so
    `num_parameters` counts true degrees of freedom. Initialised as the projection
    of the reference's dense orthogonal initialisation.

    Args:
        rep_in: Input representation.
        rep_out: Output representation (same group).
        generator: Randomness for the initialisation.

    Shape:
        Input `(*, rep_in.dim)`, output `(*, rep_out.dim)`.

    Example:
        >>> from softeq.groups import get
        >>> from softeq.reps import parse
        >>> G = get("O3")
        >>> layer = EquivariantLinear(parse("5*V0+5*V", G), parse("V2", G))
        >>> layer(torch.randn(7, 20)).shape, layer.theta.numel()
        (torch.Size([7, 9]), 5)
    """

    def __init__(
        self, rep_in: Rep, rep_out: Rep, *, generator: torch.Generator | None = None
    ) -> None:
        super().__init__()
        self.rep_in, self.rep_out = rep_in, rep_out
        self.projector = BlockProjector(rep_in, rep_out).float()
        W, b = dense_init(rep_out.dim, rep_in.dim, generator=generator)
        self.theta = nn.Parameter(self.projector.coefficients(W))
        self.bias_theta = nn.Parameter(self.projector.bias_coefficients(b))

    @torch.no_grad()
    def set_from_dense(self, W: Tensor, b: Tensor) -> EquivariantLinear:
        """Set the parameters to the projection of a dense `W (out, in)`, `b (out,)`."""
        self.theta.copy_(self.projector.coefficients(W.to(self.theta.dtype)))
        self.bias_theta.copy_(self.projector.bias_coefficients(b.to(self.theta.dtype)))
        return self

    def weight(self) -> Tensor:
        """The equivariant weight, `(rep_out.dim, rep_in.dim)`."""
        return self.projector.assemble(self.theta)

    def bias(self) -> Tensor:
        """The invariant bias, `(rep_out.dim,)`."""
        return self.projector.assemble_bias(self.bias_theta)

    def affine(self) -> tuple[Tensor, Tensor]:
        """The map as a dense `(weight (out, in), bias (out,))`."""
        return self.weight(), self.bias()

    def forward(self, x: Tensor) -> Tensor:
        _check_input(self, x, self.rep_in)
        return x @ self.weight().T + self.bias()

    def export(self) -> nn.Linear:
        """A plain `torch.nn.Linear` with the current weight baked in."""
        return _to_linear(self.weight(), self.bias())


class SoftLinear(nn.Module):
    """Dense linear map that measures its distance to each candidate group's
    equivariant maps.

    `penalty(G)` $= \\tfrac12\\|W - P_G W\\|^2 + \\tfrac12\\|b - P_G b\\|^2$ with $P_G$
    the orthogonal projector onto $Hom_G(\\rho_{in}, \\rho_{out})$ (and onto the
    $G$-invariant biases). `penalties()` evaluates every group at once (fused).

    Args:
        rep_in: Input layout (re-bound to every candidate group).
        rep_out: Output layout.
        groups: Candidate groups (or registry names) acting on the same $R^d$.
        generator: Randomness for the initialisation (orthogonal W, uniform b).

    Shape:
        Input `(*, rep_in.dim)`, output `(*, rep_out.dim)`.

    Example:
        >>> from softeq.groups import get
        >>> from softeq.reps import parse
        >>> groups = [get("O3"), get("O2z")]
        >>> layer = SoftLinear(parse("V", groups[0]), parse("V", groups[0]), groups)
        >>> _ = layer.project_(get("O3"))
        >>> values = layer.penalties(exact=True)
        >>> [round(float(v), 9) for v in values.values()]  # O3 ⊃ O2z: both hold
        [0.0, 0.0]
    """

    def __init__(
        self,
        rep_in: Rep,
        rep_out: Rep,
        groups: Sequence[Group | str],
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.rep_in, self.rep_out = rep_in, rep_out
        self.projectors = MultiProjector(rep_in, rep_out, groups).float()
        self.groups = tuple(self.projectors.groups)
        W, b = dense_init(rep_out.dim, rep_in.dim, generator=generator)
        self.weight = nn.Parameter(W)
        self.bias = nn.Parameter(b)

    def affine(self) -> tuple[Tensor, Tensor]:
        """The map as a dense `(weight (out, in), bias (out,))`."""
        return self.weight, self.bias

    def forward(self, x: Tensor) -> Tensor:
        _check_input(self, x, self.rep_in)
        return x @ self.weight.T + self.bias

    def _group_index(self, group: Group | str) -> int:
        name = group.name if isinstance(group, Group) else group
        names = [g.name for g in self.groups]
        if name not in names:
            raise ValueError(
                f"{name!r} is not a candidate group of this layer: {names}"
            )
        return names.index(name)

    def penalties(self, *, exact: bool = False) -> dict[str, Tensor]:
        """$\\{G.name: R_G\\}$ for every candidate group, in one fused pass.

        Args:
            exact: float64 values without gradient (for logging and tuners);
                otherwise differentiable values in the weight's
                dtype, whose values lose precision when $R_G \\ll \\|W\\|^2$ but
                whose gradients are exact.
        """
        if exact:
            with torch.no_grad():
                values = self.projectors.residuals(self.weight, self.bias, exact=True)
        else:
            values = self.projectors.residuals(self.weight, self.bias)
        return {g.name: values[j] for j, g in enumerate(self.groups)}

    def penalty(self, group: Group | str, *, exact: bool = False) -> Tensor:
        """Penalty $R_G$ of one group (see `penalties`)."""
        return self.penalties(exact=exact)[self.groups[self._group_index(group)].name]

    @torch.no_grad()
    def project_(self, group: Group | str) -> SoftLinear:
        """Replace $W, b$ by $P_G W, P_G b$ in place (makes the layer G-equivariant)."""
        projector = self.projectors.projectors[
            self.groups[self._group_index(group)].name
        ]
        self.weight.copy_(projector.project(self.weight))
        self.bias.copy_(projector.project_bias(self.bias))
        return self

    def export(self) -> nn.Linear:
        """A plain `torch.nn.Linear` with the current weight."""
        return _to_linear(self.weight, self.bias)


def soft_layers(model: nn.Module) -> list[SoftLinear]:
    """Every `SoftLinear` in `model`, found by type, in `modules()` order."""
    return [m for m in model.modules() if isinstance(m, SoftLinear)]


class RPPLinear(nn.Module):
    """Residual pathway prior (Finzi et al. 2021): $W = P_G w_{eq} + w_{free}$.

    The equivariant path is an `EquivariantLinear` for `group`; the free path is a
    dense map, or, with `free_group`, an `EquivariantLinear` for that subgroup (the
    reference's "oracle subgroup" RPP). The free path starts at 1e-3 times the
    equivariant one. Decay the two paths separately: `equivariant_parameters()` and
    `free_parameters()` (reference: 1e-5 and 1).

    Args:
        rep_in: Input layout.
        rep_out: Output layout.
        group: Group (or registry name) of the equivariant path.
        free_group: Optional group (or name) constraining the free path.
        generator: Randomness for the initialisation.

    Shape:
        Input `(*, rep_in.dim)`, output `(*, rep_out.dim)`.

    Example:
        >>> from softeq.groups import get
        >>> from softeq.reps import parse
        >>> rep = parse("V", get("O3"))
        >>> layer = RPPLinear(rep, rep, "O3", free_group="O2z")
        >>> layer(torch.randn(5, 3)).shape
        torch.Size([5, 3])
    """

    def __init__(
        self,
        rep_in: Rep,
        rep_out: Rep,
        group: Group | str,
        *,
        free_group: Group | str | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        group = as_group(group)
        free_group = None if free_group is None else as_group(free_group)
        self.rep_in, self.rep_out = rep_in, rep_out
        # The reference draws one dense (W, b), uses P_G W for the equivariant path
        # and 1e-3 (W, b), unprojected, for the free one.
        W, b = dense_init(rep_out.dim, rep_in.dim, generator=generator)
        self.equivariant = EquivariantLinear(
            rep_in.with_group(group), rep_out.with_group(group)
        ).set_from_dense(W, b)
        self.free: nn.Module
        if free_group is None:
            self.free = _DenseLinear(1e-3 * W, 1e-3 * b)
        else:
            self.free = EquivariantLinear(
                rep_in.with_group(free_group), rep_out.with_group(free_group)
            ).set_from_dense(1e-3 * W, 1e-3 * b)

    def affine(self) -> tuple[Tensor, Tensor]:
        """The map as a dense `(weight (out, in), bias (out,))`: the two paths'
        sum, so one GEMM applies both."""
        W_eq, b_eq = self.equivariant.affine()
        W_free, b_free = self.free.affine()
        return W_eq + W_free, b_eq + b_free

    def forward(self, x: Tensor) -> Tensor:
        _check_input(self, x, self.rep_in)
        return self.equivariant(x) + self.free(x)

    def equivariant_parameters(self) -> list[nn.Parameter]:
        """Parameters of the equivariant path."""
        return list(self.equivariant.parameters())

    def free_parameters(self) -> list[nn.Parameter]:
        """Parameters of the free (symmetry-breaking) path."""
        return list(self.free.parameters())


class _DenseLinear(nn.Module):
    """A dense `x W^T + b` initialised from given tensors."""

    def __init__(self, W: Tensor, b: Tensor) -> None:
        super().__init__()
        self.weight = nn.Parameter(W.detach().clone())
        self.bias = nn.Parameter(b.detach().clone())

    def affine(self) -> tuple[Tensor, Tensor]:
        """The map as a dense `(weight (out, in), bias (out,))`."""
        return self.weight, self.bias

    def forward(self, x: Tensor) -> Tensor:
        return x @ self.weight.T + self.bias


def affine_features_first(layer: nn.Module, h: Tensor) -> Tensor:
    """`layer` (any softeq linear map with `affine()`) applied to features-first
    input: $W h + b$ for `h` `(in, B)` -> `(out, B)`, one GEMM.

    Example:
        >>> from softeq.groups import get
        >>> from softeq.reps import parse
        >>> V = parse("V", get("O3"))
        >>> layer = SoftLinear(V, V + V, [get("O3")])
        >>> h = torch.randn(3, 5)
        >>> torch.allclose(affine_features_first(layer, h).T, layer(h.T), atol=1e-6)
        True
    """
    W, b = layer.affine()
    if h.ndim != 2 or h.shape[0] != W.shape[1]:
        raise ValueError(
            f"{type(layer).__name__} expects features-first input ({W.shape[1]}, "
            f"B), got shape {tuple(h.shape)}"
        )
    return torch.addmm(b.unsqueeze(1), W, h)


def _to_linear(W: Tensor, b: Tensor) -> nn.Linear:
    linear = nn.Linear(W.shape[1], W.shape[0], dtype=W.dtype, device=W.device)
    with torch.no_grad():
        linear.weight.copy_(W)
        linear.bias.copy_(b)
    return linear
