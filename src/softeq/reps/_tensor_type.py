"""Tensor types: words in V and V* such as V⊗V⊗V* and their group actions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce

import torch
from torch import Tensor

VEC, DUAL = "V", "V*"


def batched_kron(a: Tensor, b: Tensor) -> Tensor:
    """Kronecker product over the last two dims.

    Shape:
        `(..., m, n)` and `(..., p, q)` -> `(..., m*p, n*q)`.
    """
    m, n = a.shape[-2:]
    p, q = b.shape[-2:]
    out = torch.einsum("...ij,...kl->...ikjl", a, b)
    return out.reshape(*out.shape[:-4], m * p, n * q)


@dataclass(frozen=True, order=True)
class TensorType:
    """A tensor type $V^{f_1} \\otimes ... \\otimes V^{f_L}$ with each factor V or V*.

    The empty word is the scalar type V0. Components are flattened row-major, so
    $\\rho(g) = \\rho_1(g) \\otimes ... \\otimes \\rho_L(g)$ with $\\rho_V(g) = g$ and
    $\\rho_{V^*}(g) = g^{-T}$, and $d\\rho(A)$ is the Kronecker sum of $A$ (V) and
    $-A^T$ (V*) factors.

    Args:
        factors: The word, a tuple of ``"V"`` and ``"V*"``.

    Example:
        >>> TensorType.of(2, 1)
        T(2,1)
        >>> TensorType.of(1, 0).dim(3)
        3
    """

    factors: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        bad = [f for f in self.factors if f not in (VEC, DUAL)]
        if bad:
            raise ValueError(f"tensor factors must be 'V' or 'V*', got {bad}")

    @classmethod
    def of(cls, p: int, q: int = 0) -> TensorType:
        """$T(p, q) = V^{\\otimes p} \\otimes V^{*\\otimes q}$."""
        if p < 0 or q < 0:
            raise ValueError(f"T(p,q) needs p, q >= 0, got T({p},{q})")
        return cls((VEC,) * p + (DUAL,) * q)

    @property
    def rank(self) -> int:
        """Number of tensor factors ($p + q$)."""
        return len(self.factors)

    @property
    def p(self) -> int:
        """Number of V factors."""
        return self.factors.count(VEC)

    @property
    def q(self) -> int:
        """Number of V* factors."""
        return self.factors.count(DUAL)

    def dim(self, d: int) -> int:
        """Dimension $d^{rank}$ of this type over $R^d$."""
        return d**self.rank

    def dual(self) -> TensorType:
        """The dual type: every V becomes V* and vice versa."""
        return TensorType(tuple(DUAL if f == VEC else VEC for f in self.factors))

    def __mul__(self, other: TensorType) -> TensorType:
        """Tensor product: concatenation of the words."""
        return TensorType(self.factors + other.factors)

    def rho(self, g: Tensor) -> Tensor:
        """$\\rho(g)$ for `g` of shape `(..., d, d)`; returns `(..., d^L, d^L)`."""
        if not self.factors:
            return torch.ones(*g.shape[:-2], 1, 1, dtype=g.dtype, device=g.device)
        g_dual = torch.linalg.inv(g).transpose(-1, -2) if DUAL in self.factors else g
        mats = [g if f == VEC else g_dual for f in self.factors]
        return reduce(batched_kron, mats)

    def drho(self, A: Tensor) -> Tensor:
        """Kronecker sum $d\\rho(A)$ for `A` `(..., d, d)`, shape `(..., d^L, d^L)`."""
        d, batch = A.shape[-1], A.shape[:-2]
        n = d**self.rank
        out = torch.zeros(*batch, n, n, dtype=A.dtype, device=A.device)

        def eye(k: int) -> Tensor:
            return torch.eye(k, dtype=A.dtype, device=A.device).expand(*batch, k, k)

        for i, f in enumerate(self.factors):
            a = A if f == VEC else -A.transpose(-1, -2)
            left, right = eye(d**i), eye(d ** (self.rank - i - 1))
            out = out + batched_kron(batched_kron(left, a), right)
        return out

    def __str__(self) -> str:
        if not self.factors:
            return "V0"
        if self.factors == (VEC,) * self.rank:
            return "V" if self.rank == 1 else f"V{self.rank}"
        if self.factors == (DUAL,):
            return "V*"
        if self.factors == (VEC,) * self.p + (DUAL,) * self.q:
            return f"T({self.p},{self.q})"
        return "⊗".join(self.factors)

    def __repr__(self) -> str:
        return str(self)


def word_of(types: Sequence[TensorType]) -> TensorType:
    """Tensor product of several types, left to right."""
    return reduce(lambda a, b: a * b, types, TensorType())
