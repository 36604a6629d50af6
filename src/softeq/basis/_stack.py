"""Fused penalties of several layers against the same candidate groups."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ._multi import MultiProjector, _FusedResiduals, nonnegative
from ._prior_traces import block_traces, shifted_block_traces


class ProjectorStack:
    """The residuals $R_j = \\sum_l \\tfrac12\\|u_l - P_{l,j}u_l\\|^2$ of several
    layers $l$ (weights and biases $u_l$, one `MultiProjector` each, all with the
    same candidate groups) in one fused pass.

    Each `MultiProjector` splits its layer into blocks `(rows, n)` with the
    bases of all groups side by side, `Q` `(n, cols)`. Layers built on the same
    type pairs (the hidden layers of an EMLP share all of theirs) have equal
    blocks bases, so their rows are stacked: $\\|Q^T [U_1; U_2]\\|^2 =
    \\|Q^T U_1\\|^2 + \\|Q^T U_2\\|^2$ column by column, one GEMM for all of them.
    The stacked rows layout is reached with one gather of the concatenated
    parameters. Same values and gradients as summing `MultiProjector.residuals`
    over the layers, in fewer, larger operations.

    Args:
        projectors: One per layer, all with the same groups in the same order.

    Example:
        >>> from softeq.groups import get
        >>> from softeq.reps import parse
        >>> G = [get("O3"), get("O2z")]
        >>> V = parse("V", G[0])
        >>> stack = ProjectorStack([MultiProjector(V, V, G), MultiProjector(V, V, G)])
        >>> W = torch.diag(torch.tensor([1.0, 1.0, 2.0], dtype=torch.float64))
        >>> [round(r, 6) for r in stack.residuals([(W, None), (W, None)]).tolist()]
        [0.666667, 0.0]
    """

    def __init__(self, projectors: Sequence[MultiProjector]) -> None:
        if not projectors:
            raise ValueError("ProjectorStack needs at least one MultiProjector")
        names = [g.name for g in projectors[0].groups]
        for mp in projectors[1:]:
            if [g.name for g in mp.groups] != names:
                raise ValueError(
                    "every layer of a ProjectorStack needs the same candidate groups, "
                    f"got {names} and {[g.name for g in mp.groups]}"
                )
        self.projectors = list(projectors)
        self.groups = projectors[0].groups
        self._layouts: dict[tuple[bool, ...], _Layout] = {}

    def residuals(
        self, layers: Sequence[tuple[Tensor, Tensor | None]], *, exact: bool = False
    ) -> Tensor:
        """$R_j$ summed over the layers, in the order of `groups`, `(n_groups,)`.

        Args:
            layers: `(W, b)` of every layer, in the order of `projectors`; `b` may
                be None.
            exact: Evaluate in float64 (accurate values); otherwise in the
                weights' dtype (fast, exact gradients).
        """
        if len(layers) != len(self.projectors):
            raise ValueError(
                f"expected {len(self.projectors)} (W, b) pairs, got {len(layers)}"
            )
        parts = []
        for mp, (W, b) in zip(self.projectors, layers, strict=True):
            mp.check(W, b)
            parts += [W.reshape(-1)] + ([] if b is None else [b.to(W.dtype)])
        W0 = layers[0][0]
        dtype = torch.float64 if exact else W0.dtype
        layout = self._layout(tuple(b is not None for _, b in layers))
        u = torch.cat([p.to(dtype) for p in parts])
        gather, inverse, owner = layout.indices(u.device, dtype)
        blocks = [
            (rows, n, mp._basis(name, dtype)) for rows, n, mp, name in layout.blocks
        ]
        return nonnegative(_FusedResiduals.apply(u, gather, inverse, owner, blocks))

    def prior_traces(self, strengths: Tensor, alpha: float) -> Tensor:
        """`softeq.basis.prior_traces` summed over the layers (weights and
        biases), one `block_traces` per distinct block: layers that share a
        block share its prior, so its trace counts once per row of all of them."""
        layout = self._layout((True,) * len(self.projectors))
        strengths = strengths.to(torch.float64)
        total = torch.zeros(len(self.groups), dtype=torch.float64)
        for (rows, _, mp, name), owner, gram in zip(
            layout.blocks, layout.owners, layout.grams(), strict=True
        ):
            Q = mp._exact[name]
            total += rows * block_traces(Q, owner, strengths, alpha, gram=gram)
        return total

    def evidence_traces(
        self, strengths: Tensor, alpha: float, curvature: Sequence[Tensor]
    ) -> Tensor:
        """$T_j = \\tfrac12\\mathrm{tr}(\\Lambda^{-1}(I - P_j))
        - \\tfrac12\\mathrm{tr}((\\Lambda + H)^{-1}(I - P_j))$ summed over the
        layers: the prior's traces minus those of the Laplace posterior, whose
        data curvature $H$ is taken isotropic on each layer's copy-pair blocks of
        one type pair, $h\\,I$ with $h$ the mean of the given diagonal there.

        Args:
            strengths: $\\lambda_j$, `(n_groups,)`.
            alpha: Isotropic prior precision $\\alpha \\ge 0$.
            curvature: Per layer, the diagonal of its data curvature over its
                weight (row-major) then bias entries, `(out * in + out,)`.
                Blocks whose mean is not positive add nothing (no data there).

        One eigendecomposition per distinct block serves the prior (when
        $\\alpha > 0$) and every layer's shift (`shifted_block_traces`).
        """
        layout = self._layout((True,) * len(self.projectors))
        sizes = [mp.get_buffer("_gather_wb").numel() for mp in self.projectors]
        if len(curvature) != len(self.projectors) or any(
            c.shape != (n,) for c, n in zip(curvature, sizes, strict=False)
        ):
            raise ValueError(
                f"expected one curvature diagonal per layer, of sizes {sizes}; got "
                f"{[tuple(c.shape) for c in curvature]}"
            )
        u = torch.cat([c.detach().to("cpu", torch.float64) for c in curvature])
        strengths = strengths.to(torch.float64)
        total = torch.zeros(len(self.groups), dtype=torch.float64)
        for (_, _, mp, name), owner, gram, held, pieces in zip(
            layout.blocks, layout.owners, layout.grams(), layout.layer_rows,
            layout.pieces, strict=True,
        ):  # fmt: skip
            shifts = [float(u[piece].mean()) for piece in pieces]
            kept = [(r, h) for (_, r), h in zip(held, shifts, strict=True) if h > 0]
            if not kept:
                continue
            Q = mp._exact[name]
            rows_each = torch.tensor([r for r, _ in kept], dtype=torch.float64)
            values = torch.tensor([h for _, h in kept], dtype=torch.float64)
            if alpha > 0:  # the prior is the zero shift
                values = torch.cat([values.new_zeros(1), values])
                traces = shifted_block_traces(
                    Q, owner, strengths, alpha, values, gram=gram
                )
                total += rows_each.sum() * traces[0] - rows_each @ traces[1:]
                continue
            traces = shifted_block_traces(Q, owner, strengths, alpha, values, gram=gram)
            prior = block_traces(Q, owner, strengths, alpha, gram=gram)
            total += rows_each.sum() * prior - rows_each @ traces
        return total

    def _layout(self, with_bias: tuple[bool, ...]) -> _Layout:
        """The (cached) stacked layout of the layers, with or without biases."""
        if with_bias not in self._layouts:
            self._layouts[with_bias] = _Layout(self.projectors, with_bias)
        return self._layouts[with_bias]


class _Layout:
    """The stacked rows layout of some layers (with or without their biases):
    merged blocks `(rows, n, projector, basis name)`, the gather from the
    concatenated parameters, the column owners, and which layers hold each
    merged block's rows (`layer_rows`: `(layer, rows)` pairs, with their gather
    `pieces` into the concatenated parameters)."""

    def __init__(self, projectors: list[MultiProjector], with_bias: tuple[bool, ...]):
        # [n, Q, [gather pieces], owner columns, mp, name, [(layer, rows)]]
        merged: list[list] = []
        base = 0
        for layer, (mp, has_b) in enumerate(zip(projectors, with_bias, strict=True)):
            key = "wb" if has_b else "w"
            # CPU copies: the layout serves any device (`indices`) and the traces
            gather = mp.get_buffer(f"_gather_{key}").cpu()
            owner = mp.get_buffer(f"_owner_{key}").to("cpu", torch.float64)
            start, col = 0, 0
            for rows, n, name in mp._blocks[key]:
                Q = mp._exact[name]
                piece = gather[start : start + rows * n] + base
                cols = owner[col : col + Q.shape[1]]
                entry = _find(merged, n, Q, cols)
                if entry is None:
                    merged.append([n, Q, [piece], cols, mp, name, [(layer, rows)]])
                else:
                    entry[2].append(piece)
                    entry[6].append((layer, rows))
                start, col = start + rows * n, col + Q.shape[1]
            base += len(gather)
        self.blocks = [
            (sum(len(p) for p in pieces) // n, n, mp, name)
            for n, _, pieces, _, mp, name, _ in merged
        ]
        self._gather = torch.cat([p for entry in merged for p in entry[2]])
        self.owners = [entry[3] for entry in merged]
        self.layer_rows: list[list[tuple[int, int]]] = [entry[6] for entry in merged]
        self.pieces: list[list[Tensor]] = [entry[2] for entry in merged]
        self._owner = torch.cat(self.owners)
        self._bases = [entry[1] for entry in merged]
        self._grams: list[Tensor] | None = None
        self._on: dict[tuple[torch.device, torch.dtype], tuple[Tensor, ...]] = {}

    def grams(self) -> list[Tensor]:
        """$Q^TQ$ of every merged block's float64 bases (computed once)."""
        if self._grams is None:
            self._grams = [Q.T @ Q for Q in self._bases]
        return self._grams

    def indices(
        self, device: torch.device, dtype: torch.dtype
    ) -> tuple[Tensor, Tensor, Tensor]:
        """`(gather, inverse, owner)` on `device`, the owner in `dtype` (cached)."""
        if (device, dtype) not in self._on:
            gather = self._gather.to(device)
            self._on[(device, dtype)] = (
                gather,
                gather.argsort(),
                self._owner.to(device=device, dtype=dtype),
            )
        return self._on[(device, dtype)]


def _find(merged: list[list], n: int, Q: Tensor, owner: Tensor) -> list | None:
    """The merged block whose bases equal `Q`, column owners included, if any."""
    for entry in merged:
        if (
            entry[0] == n
            and entry[1].shape == Q.shape
            and torch.equal(entry[1], Q)
            and torch.equal(entry[3], owner)
        ):
            return entry
    return None
