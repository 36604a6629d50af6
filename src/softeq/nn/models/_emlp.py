"""EMLP-shaped networks: hard (`EMLP`), residual-pathway (`RPPEMLP`) and soft
(`SoftEMLP`, one penalty per candidate group)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from ...basis import is_subgroup
from ...groups import Group, as_group, as_groups
from ...reps import Rep
from .._bilinear import EquivariantBilinear
from .._gated import GatedNonlinearity, RPPGatedNonlinearity, gated
from .._linear import (
    EquivariantLinear,
    RPPLinear,
    SoftLinear,
    affine_features_first,
)
from ._allocation import allocate
from ._base import Model

LinearFactory = Callable[[Rep, Rep], nn.Module]
GATES = ("plain", "rpp")


class EMLPBlock(nn.Module):
    """`h -> gate(l + Bilinear(l))` with `l = linear(h)`.

    The bilinear layer and the gate are built on `gated(hidden)` of the largest
    group, so they are equivariant for it and every subgroup; only `linear` can
    break symmetry.

    Shape:
        Input `(*, linear input dim)`, output `(*, hidden.dim)`.
    """

    def __init__(
        self,
        linear: nn.Module,
        hidden: Rep,
        *,
        gate: str = "plain",
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if gate not in GATES:
            raise ValueError(f"gate must be one of {GATES}, got {gate!r}")
        self.linear = linear
        self.bilinear = EquivariantBilinear(gated(hidden), generator=generator)
        self.gate = (RPPGatedNonlinearity if gate == "rpp" else GatedNonlinearity)(
            hidden
        )

    def forward(self, x: Tensor) -> Tensor:
        h = x.reshape(-1, x.shape[-1]).T
        y = self.forward_features_first(h).T.contiguous()
        return y.reshape(*x.shape[:-1], y.shape[-1])

    def forward_features_first(self, h: Tensor) -> Tensor:
        """The block on features-first input, `h` `(in, B)` -> `(hidden.dim, B)`:
        one GEMM, the bilinear layer with its skip connection fused, one fused
        gate, and no transposes in between."""
        lin = affine_features_first(self.linear, h)
        return self.gate.forward_features_first(
            self.bilinear.forward_features_first(lin, residual=True)
        )


class _EMLPFamily(Model):
    """`num_layers` EMLP blocks and a final linear map, with linear maps from
    `make_linear(rep_in, rep_out)` and hidden layers allocated for `group`."""

    def __init__(
        self,
        rep_in: Rep,
        rep_out: Rep,
        group: Group,
        make_linear: LinearFactory,
        *,
        ch: int,
        num_layers: int,
        allocation: str,
        gate: str,
        generator: torch.Generator | None,
    ) -> None:
        rep_in, rep_out = _rebind(rep_in, group), _rebind(rep_out, group)
        super().__init__(rep_in, rep_out)
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        self.hidden = allocate(ch, group, allocation)
        reps = [rep_in] + [self.hidden] * num_layers
        self.blocks = nn.ModuleList(
            EMLPBlock(
                make_linear(reps[k], gated(self.hidden)),
                self.hidden,
                gate=gate,
                generator=generator,
            )
            for k in range(num_layers)
        )
        self.out = make_linear(self.hidden, rep_out)

    def _forward(self, x: Tensor) -> Tensor:
        # Hidden features live features-first, (dim, B): the bilinear layers'
        # per-sample products run over the contiguous batch without transposes.
        h = x.reshape(-1, x.shape[-1]).T
        for block in self.blocks:
            h = block.forward_features_first(h)
        # features-first here too, so that the gradient reaching the last gate is
        # contiguous (out, B); the small output is transposed once at the end
        y = affine_features_first(self.out, h).T.contiguous()
        return y.reshape(*x.shape[:-1], y.shape[-1])

    def gate_parameters(self) -> list[nn.Parameter]:
        """The element-wise `w_gated` paths of RPP gates (reference decay: 1)."""
        return [
            m.w_gated for m in self.modules() if isinstance(m, RPPGatedNonlinearity)
        ]


def _rebind(rep: Rep, group: Group) -> Rep:
    if rep.group.d != group.d:
        raise ValueError(
            f"{rep} acts on R^{rep.group.d} but the model's group {group.name} acts "
            f"on R^{group.d}"
        )
    return rep.with_group(group)


class EMLP(_EMLPFamily):
    """Hard-equivariant EMLP (Finzi et al. 2021) for one group: the EMLP baseline.

    With `nonlinear_group` $G_0 \\supseteq G$ the hidden layers, bilinear layers
    and gates are built for $G_0$ and only the linear maps for $G$: the network is
    exactly $G$-equivariant and is the $\\lambda \\to \\infty$ limit of a `SoftEMLP`
    over candidates $G_0, G$ with strength $\\lambda$ on $G$ (docs/models.md,
    "Does soft approach hard?").

    Args:
        rep_in: Input layout.
        rep_out: Output layout.
        group: The symmetry imposed exactly (a `Group` or a registry name).
        nonlinear_group: Group (or name) the hidden layers and nonlinearities are
            built for (default: `group`); must contain `group`.
        ch: Channel budget of each hidden layer.
        num_layers: Number of blocks.
        allocation: ``"uniform"`` (EMLP's, default) or ``"per"``.
        gate: ``"plain"`` (default) or ``"rpp"``.
        generator: Randomness for the initialisation.

    Shape:
        Input `(*, rep_in.dim)`, output `(*, rep_out.dim)`.

    Example:
        Exactly O(2)_z-equivariant maps from two vectors to a scalar:

        >>> from softeq.groups import get
        >>> from softeq.reps import parse
        >>> G = get("O3")
        >>> model = EMLP(parse("2*V", G), parse("V0", G), "O2z", ch=16,
        ...              num_layers=1)
        >>> model.group.name, model(torch.randn(5, 6)).shape
        ('O2z', torch.Size([5, 1]))
    """

    def __init__(
        self,
        rep_in: Rep,
        rep_out: Rep,
        group: Group | str,
        *,
        nonlinear_group: Group | str | None = None,
        ch: int = 128,
        num_layers: int = 3,
        allocation: str = "uniform",
        gate: str = "plain",
        generator: torch.Generator | None = None,
    ) -> None:
        group = as_group(group)
        outer = group if nonlinear_group is None else as_group(nonlinear_group)
        if not is_subgroup(group, outer):
            raise ValueError(
                f"EMLP: group {group.name} is not inside nonlinear_group "
                f"{outer.name}; the nonlinearities must respect the linear maps' group"
            )

        def make(a: Rep, b: Rep) -> nn.Module:
            a, b = a.with_group(group), b.with_group(group)
            return EquivariantLinear(a, b, generator=generator)

        super().__init__(
            rep_in, rep_out, outer, make, ch=ch, num_layers=num_layers,
            allocation=allocation, gate=gate, generator=generator,
        )  # fmt: skip
        self.group, self.nonlinear_group = group, outer

    @property
    def symmetry_constraint(self) -> tuple[Group, str]:
        """The group the network respects by construction, and how (read by the
        symmetry report: its breaking for this group and every subgroup is 0
        whatever the data)."""
        return self.group, f"hard-equivariant to {self.group.name} (EMLP)"


class RPPEMLP(_EMLPFamily):
    """Residual-pathway EMLP: every linear map is `RPPLinear` for `group`, with an
    optional `free_group` constraining the free path (the oracle-subgroup RPP).

    Args:
        rep_in: Input layout.
        rep_out: Output layout.
        group: Group (or registry name) of the equivariant path.
        free_group: Optional group (or name) of the free path.
        ch: Channel budget; the reference uses 89 (inertia) and 45 (cossim).
        num_layers: Number of blocks.
        allocation: ``"per"`` (default, as the reference) or ``"uniform"``.
        gate: ``"rpp"`` (default) or ``"plain"``.
        generator: Randomness for the initialisation.

    Shape:
        Input `(*, rep_in.dim)`, output `(*, rep_out.dim)`.

    Example:
        O(3)-equivariant path, free path constrained to O(2)_z (the oracle RPP):

        >>> from softeq.groups import get
        >>> from softeq.reps import parse
        >>> rep = parse("V", get("O3"))
        >>> model = RPPEMLP(rep, rep, "O3", free_group="O2z", ch=16, num_layers=1)
        >>> model.free_group.name, model(torch.randn(5, 3)).shape
        ('O2z', torch.Size([5, 3]))
    """

    def __init__(
        self,
        rep_in: Rep,
        rep_out: Rep,
        group: Group | str,
        *,
        free_group: Group | str | None = None,
        ch: int = 89,
        num_layers: int = 3,
        allocation: str = "per",
        gate: str = "rpp",
        generator: torch.Generator | None = None,
    ) -> None:
        group = as_group(group)
        free_group = None if free_group is None else as_group(free_group)
        if free_group is not None and not is_subgroup(free_group, group):
            raise ValueError(f"free_group {free_group.name} is not inside {group.name}")

        def make(a: Rep, b: Rep) -> nn.Module:
            return RPPLinear(a, b, group, free_group=free_group, generator=generator)

        super().__init__(
            rep_in, rep_out, group, make, ch=ch, num_layers=num_layers,
            allocation=allocation, gate=gate, generator=generator,
        )  # fmt: skip
        self.group, self.free_group = group, free_group

    @property
    def symmetry_constraint(self) -> tuple[Group, str] | None:
        """With a `free_group`, every path respects it: the group and how (read by
        the symmetry report); None for the plain RPP, which respects nothing
        exactly."""
        if self.free_group is None:
            return None
        return self.free_group, f"both paths {self.free_group.name}-equivariant (RPP)"

    def rpp_layers(self) -> list[RPPLinear]:
        """Every `RPPLinear`, for separate decay of the two paths."""
        return [m for m in self.modules() if isinstance(m, RPPLinear)]


def check_candidate_groups(groups: Sequence[Group | str]) -> list[Group]:
    """Validate candidate groups: non-empty, distinct names, one $R^d$, and every
    group inside the first (the largest, $G_0$)."""
    groups = as_groups(groups)  # names are resolved; anything else is a TypeError
    if not groups:
        raise ValueError(f"need a non-empty list of softeq Groups, got {groups!r}")
    names = [g.name for g in groups]
    if len(set(names)) != len(names):
        raise ValueError(f"candidate groups must have distinct names, got {names}")
    G0 = groups[0]
    for g in groups[1:]:
        if g.d != G0.d:
            raise ValueError(f"{g.name} acts on R^{g.d} but {G0.name} on R^{G0.d}")
        if not is_subgroup(g, G0):
            raise ValueError(
                f"{g.name} is not a subgroup of {G0.name}: the bilinear layer and "
                f"gates are built for the first (largest) group; list a group "
                f"containing all candidates first"
            )
    return groups


class SoftEMLP(_EMLPFamily):
    """The PER network: EMLP blocks with unconstrained `SoftLinear` maps.

    The bilinear layers and gates are built for $G_0$ = `groups[0]`, which must
    contain the other candidates, so only the dense $W, b$ can break a symmetry;
    each `SoftLinear` measures its distance to every candidate's equivariant maps.
    Then a network whose linear maps are $G$-equivariant is $G$-equivariant, for
    every candidate $G$.

    With `nonlinear_group` $N$ (a group on the same $R^d$, usually a smaller
    candidate) the hidden layers, bilinear layers and gates are built for $N$
    instead. That guarantee then holds only for candidates inside $N$; for the
    others the penalties constrain the linear maps alone, and only the
    function-space measures (the symmetry report) say how symmetric the network
    is. It is what a largest group without non-constant invariants needs: for
    SO3xScale3 (rotations and scalings) no product of vectors is invariant, so
    the bilinear layers built for it never form one, and a network with linear
    maps near SO3's maps is near a constant; built for SO3, they form dot
    products (docs/models.md, "The nonlinearities' group").

    Args:
        rep_in: Input layout.
        rep_out: Output layout.
        groups: Candidate groups (or registry names), the largest first.
        ch: Channel budget (reference: 128 synthetic, 384 motion).
        num_layers: Number of blocks (reference: 3).
        allocation: ``"per"`` (default, reference) or ``"uniform"``.
        gate: ``"rpp"`` (default, reference) or ``"plain"``.
        nonlinear_group: Group (or name) the hidden layers and nonlinearities are
            built for (default: `groups[0]`, the reference).
        generator: Randomness for the initialisation.

    Shape:
        Input `(*, rep_in.dim)`, output `(*, rep_out.dim)`.

    Example:
        >>> from softeq.groups import get
        >>> from softeq.reps import parse
        >>> rep = parse("V", get("O3"))
        >>> model = SoftEMLP(rep, rep, ["O3", "O2z"], ch=16, num_layers=1)
        >>> [g.name for g in model.groups], model(torch.randn(5, 3)).shape
        (['O3', 'O2z'], torch.Size([5, 3]))
    """

    def __init__(
        self,
        rep_in: Rep,
        rep_out: Rep,
        groups: Sequence[Group | str],
        *,
        ch: int = 128,
        num_layers: int = 3,
        allocation: str = "per",
        gate: str = "rpp",
        nonlinear_group: Group | str | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        groups = check_candidate_groups(groups)
        outer = groups[0] if nonlinear_group is None else as_group(nonlinear_group)

        def make(a: Rep, b: Rep) -> nn.Module:
            return SoftLinear(a, b, groups, generator=generator)

        super().__init__(
            rep_in, rep_out, outer, make, ch=ch, num_layers=num_layers,
            allocation=allocation, gate=gate, generator=generator,
        )  # fmt: skip
        self.groups = tuple(groups)
        #: The group the hidden layers, bilinear layers and gates are built for.
        self.nonlinear_group = outer

    def soft_layers(self) -> list[SoftLinear]:
        """Every `SoftLinear`, in forward order."""
        return [m for m in self.modules() if isinstance(m, SoftLinear)]

    @torch.no_grad()
    def project_(self, group: Group | str) -> SoftEMLP:
        """Project every linear map onto `group`'s equivariant maps, in place."""
        for layer in self.soft_layers():
            layer.project_(group)
        return self
