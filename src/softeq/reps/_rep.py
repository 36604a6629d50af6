"""`Rep`: a layout of tensor types with multiplicities, bound to a group."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

import torch
from torch import Tensor

from ..groups import Group
from ._tensor_type import TensorType

Block = tuple[int, TensorType]


def _merge_adjacent(blocks: Sequence[Block]) -> tuple[Block, ...]:
    """Merge neighbouring blocks of one type: m1·T then m2·T is (m1+m2)·T."""
    merged: list[Block] = []
    for mult, ttype in blocks:
        if merged and merged[-1][1] == ttype:
            merged[-1] = (merged[-1][0] + mult, ttype)
        else:
            merged.append((mult, ttype))
    return tuple(merged)


class Rep:
    """A representation $\\rho: G \\to GL(V)$ built from tensor types.

    A `Rep` is a *layout* — blocks of `mult` copies of a `TensorType`, in order, each
    copy's components contiguous and row-major — bound to a `group`. The same layout
    can be re-bound to another group acting on the same $R^d$ with `with_group`;
    that is how one network is compared against several candidate groups.

    Tensor products of direct sums do not keep blocks contiguous; such reps carry
    `index`, the flat position of every coordinate of the block layout, so that
    $\\rho_{a \\otimes b}(g) = \\rho_a(g) \\otimes \\rho_b(g)$ holds exactly for the
    row-major flattening.

    Reps are immutable; they compare and hash on (group, layout).

    Args:
        group: The group acting on $R^d$.
        blocks: `(multiplicity, TensorType)` pairs in layout order.
        index: Optional flat position of each block-layout coordinate, shape `(dim,)`.

    Example:
        >>> from softeq.groups import O
        >>> from softeq.reps import Scalar, Vector
        >>> G = O(3)
        >>> rep = 5 * Scalar(G) + 5 * Vector(G)
        >>> rep, rep.dim
        (5V0+5V, 20)
    """

    def __init__(
        self,
        group: Group,
        blocks: Sequence[Block],
        index: Tensor | None = None,
    ) -> None:
        if not isinstance(group, Group):
            raise ValueError(f"Rep needs a softeq Group, got {type(group).__name__}")
        for mult, ttype in blocks:
            if (
                not isinstance(mult, int)
                or mult < 1
                or not isinstance(ttype, TensorType)
            ):
                raise ValueError(
                    "blocks must be (multiplicity >= 1, TensorType), "
                    f"got {(mult, ttype)}"
                )
        if not blocks:
            raise ValueError("a Rep needs at least one block")
        self._group = group
        self._blocks = _merge_adjacent(blocks)
        dim = sum(m * t.dim(group.d) for m, t in self._blocks)
        if index is not None:
            index = torch.as_tensor(index, dtype=torch.long).flatten()
            if index.numel() != dim or not torch.equal(
                index.sort().values, torch.arange(dim)
            ):
                raise ValueError(f"index must be a permutation of range({dim})")
            if torch.equal(index, torch.arange(dim)):
                index = None
        self._index = index
        self._dim = dim

    # -- basic properties -------------------------------------------------------------

    @property
    def group(self) -> Group:
        """The group acting on this representation."""
        return self._group

    @property
    def blocks(self) -> tuple[Block, ...]:
        """`(multiplicity, TensorType)` pairs in layout order."""
        return self._blocks

    @property
    def index(self) -> Tensor | None:
        """Flat position of each block-layout coordinate, or None for the identity."""
        return self._index

    @property
    def dim(self) -> int:
        """Dimension of the representation space."""
        return self._dim

    @property
    def is_scalar(self) -> bool:
        """True when every block is the scalar type V0."""
        return all(t.rank == 0 for _, t in self._blocks)

    def with_group(self, group: Group) -> Rep:
        """The same layout acted on by another group on the same $R^d$."""
        if not isinstance(group, Group) or group.d != self._group.d:
            got = f"{group.name} on R^{group.d}" if isinstance(group, Group) else group
            raise ValueError(
                f"cannot move {self} from {self._group.name} on R^{self._group.d} "
                f"to {got}: the dimension d must match"
            )
        return Rep(group, self._blocks, self._index)

    # -- canonical form for block solving ---------------------------------------------

    @cached_property
    def _canonical(self) -> tuple[tuple[tuple[TensorType, int], ...], Tensor]:
        d = self._group.d
        offsets, ranges, start = {}, [], 0
        for mult, ttype in self._blocks:
            size = mult * ttype.dim(d)
            ranges.append((ttype, torch.arange(start, start + size)))
            offsets[ttype] = offsets.get(ttype, 0) + mult
            start += size
        types = sorted(offsets, key=lambda t: (t.rank, t.factors))
        coords = torch.cat([r for t in types for tt, r in ranges if tt == t])
        flat = coords if self._index is None else self._index[coords]
        return tuple((t, offsets[t]) for t in types), flat

    def canonical_types(self) -> tuple[tuple[TensorType, int], ...]:
        """Distinct tensor types with their total multiplicity, sorted by rank.

        This is the list that basis solving works on: one solve per pair of types.
        """
        return self._canonical[0]

    def canonical_index(self) -> Tensor:
        """Flat positions of the canonical layout: `x[..., idx]` groups copies by type.

        Returns:
            Long tensor of shape `(dim,)`; `x[..., idx]` lists all copies of the first
            canonical type, then the second, each copy's components contiguous.
        """
        return self._canonical[1]

    # -- group action -----------------------------------------------------------------

    def _from_blocks(self, per_type: dict[TensorType, Tensor], batch: tuple) -> Tensor:
        """Assemble the block-diagonal matrix in flat coordinates."""
        dtype = next(iter(per_type.values())).dtype
        out = torch.zeros(*batch, self.dim, self.dim, dtype=dtype)
        start = 0
        for mult, ttype in self._blocks:
            k = ttype.dim(self._group.d)
            for _ in range(mult):
                out[..., start : start + k, start : start + k] = per_type[ttype]
                start += k
        if self._index is not None:
            flat = torch.empty_like(out)
            idx = self._index
            flat[..., idx[:, None], idx[None, :]] = out
            out = flat
        return out

    def _check_matrix(self, m: Tensor, what: str) -> Tensor:
        m = torch.as_tensor(m)
        d = self._group.d
        if m.ndim < 2 or m.shape[-2:] != (d, d):
            raise ValueError(
                f"{what} for {self} (group {self._group.name}) must have shape "
                f"(..., {d}, {d}), got {tuple(m.shape)}"
            )
        return m

    def rho(self, g: Tensor) -> Tensor:
        """$\\rho(g)$ as a dense matrix: `(..., d, d) -> (..., dim, dim)`."""
        g = self._check_matrix(g, "group element")
        types = {t for _, t in self._blocks}
        return self._from_blocks({t: t.rho(g) for t in types}, tuple(g.shape[:-2]))

    def drho(self, A: Tensor) -> Tensor:
        """$d\\rho(A)$ as a dense matrix: `(..., d, d) -> (..., dim, dim)`."""
        A = self._check_matrix(A, "Lie-algebra element")
        types = {t for _, t in self._blocks}
        return self._from_blocks({t: t.drho(A) for t in types}, tuple(A.shape[:-2]))

    def act(self, g: Tensor, x: Tensor) -> Tensor:
        """Apply $\\rho(g)$ to features `x` of shape `(..., dim)`; `g` is `(d, d)` or
        broadcastable `(..., d, d)`. Returns `(..., dim)` in `x`'s dtype.

        Equal to ``rho(g) @ x`` without forming the dense block-diagonal
        $\\rho(g)$: the $m$ copies of each tensor type $T$ (dimension $k$) are
        gathered as `(..., m, k)` and multiplied by $\\rho_T(g)^T$ once, scalars
        are left as they are. Per element this costs $\\sum_T m_T k_T^2$
        multiply-adds instead of $\\dim^2$ (54 vectors in $R^3$: 486 against
        26,244), and no `(..., dim, dim)` tensor is filled.
        """
        if x.shape[-1] != self.dim:
            raise ValueError(
                f"{self} expects last dim {self.dim}, got {tuple(x.shape)}"
            )
        g = self._check_matrix(g, "group element")
        batch = torch.broadcast_shapes(x.shape[:-1], g.shape[:-2])
        d, start, parts = self._group.d, 0, []
        to_canonical, from_canonical = self._act_index(x.device)
        xc = x if to_canonical is None else x[..., to_canonical]
        for ttype, mult in self.canonical_types():
            k = ttype.dim(d)
            block = xc[..., start : start + mult * k]
            start += mult * k
            if ttype.rank == 0:
                parts.append(block.expand(*batch, mult * k))
                continue
            rho_t = ttype.rho(g).to(dtype=x.dtype, device=x.device)
            moved = block.reshape(*block.shape[:-1], mult, k) @ rho_t.transpose(-1, -2)
            parts.append(moved.reshape(*batch, mult * k))
        moved = torch.cat(parts, dim=-1)
        return moved if from_canonical is None else moved[..., from_canonical]

    def _act_index(self, device: torch.device) -> tuple[Tensor | None, Tensor | None]:
        """`canonical_index` and its inverse on `device`, copied there once (a copy
        per call would cost a host-to-device transfer on every step); `(None,
        None)` when the layout is already canonical (every task's reps are), so
        `act` gathers nothing: the gathers and their scatters in backward were a
        tenth of an orbit-penalised MLP's step."""
        cache = self.__dict__.setdefault("_act_indices", {})
        if device not in cache:
            idx = self.canonical_index()
            if torch.equal(idx, torch.arange(len(idx))):
                cache[device] = (None, None)
            else:
                cache[device] = (idx.to(device), torch.argsort(idx).to(device))
        return cache[device]

    # -- algebra ----------------------------------------------------------------------

    def _flat_index(self) -> Tensor:
        return torch.arange(self.dim) if self._index is None else self._index

    def _check_same_group(self, other: object, op: str) -> Rep:
        if not isinstance(other, Rep):
            raise ValueError(f"cannot {op} a Rep and {type(other).__name__}")
        if other.group != self.group:
            raise ValueError(
                f"cannot {op} reps of different groups: {self.group.name} and "
                f"{other.group.name}"
            )
        return other

    def __add__(self, other: Rep) -> Rep:
        """Direct sum: `other`'s coordinates follow `self`'s."""
        other = self._check_same_group(other, "add")
        index = None
        if self._index is not None or other._index is not None:
            index = torch.cat([self._flat_index(), other._flat_index() + self.dim])
        return Rep(self._group, self._blocks + other._blocks, index)

    def __rmul__(self, k: int) -> Rep:
        """`k * rep`: direct sum of `k` copies."""
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ValueError(f"multiplicity must be an integer >= 1, got {k!r}")
        out = self
        for _ in range(k - 1):
            out = out + self
        return out

    def __mul__(self, other: Rep | int) -> Rep:
        """Tensor product (row-major flattening of $V_a \\otimes V_b$), or `rep * k`."""
        if isinstance(other, int) and not isinstance(other, bool):
            return self.__rmul__(other)
        other = self._check_same_group(other, "multiply")
        d = self._group.d
        flat_a, flat_b = self._flat_index(), other._flat_index()
        blocks, pieces = [], []
        start_a = 0
        for ma, ta in self._blocks:
            da = ta.dim(d)
            start_b = 0
            for mb, tb in other._blocks:
                db = tb.dim(d)
                ia = flat_a[start_a : start_a + ma * da].reshape(ma, 1, da, 1)
                ib = flat_b[start_b : start_b + mb * db].reshape(1, mb, 1, db)
                pieces.append((ia * other.dim + ib).flatten())
                blocks.append((ma * mb, ta * tb))
                start_b += mb * db
            start_a += ma * da
        return Rep(self._group, blocks, torch.cat(pieces))

    def __pow__(self, k: int) -> Rep:
        """k-fold tensor power."""
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"tensor power must be an integer >= 1, got {k!r}")
        out = self
        for _ in range(k - 1):
            out = out * self
        return out

    def dual(self) -> Rep:
        """The dual representation $\\rho^*(g) = \\rho(g)^{-T}$, same layout."""
        return Rep(self._group, [(m, t.dual()) for m, t in self._blocks], self._index)

    # -- identity ---------------------------------------------------------------------

    def _key(self) -> tuple:
        index = None if self._index is None else tuple(self._index.tolist())
        return (self._group, self._blocks, index)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Rep) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        terms = "+".join(f"{m}{t}" if m > 1 else str(t) for m, t in self._blocks)
        return terms if self._index is None else f"{terms} (permuted)"

    def __repr__(self) -> str:
        return str(self)


def Scalar(group: Group) -> Rep:
    """The trivial representation V0 (one invariant scalar)."""
    return Rep(group, [(1, TensorType())])


def Vector(group: Group) -> Rep:
    """The defining representation V: $\\rho(g) = g$."""
    return Rep(group, [(1, TensorType.of(1))])


def T(p: int, q: int, group: Group) -> Rep:
    """The tensor representation $T(p,q) = V^{\\otimes p} \\otimes V^{*\\otimes q}$."""
    return Rep(group, [(1, TensorType.of(p, q))])
