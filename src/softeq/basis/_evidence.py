"""Exact traces of the Gaussian prior that the projection penalties define."""

from __future__ import annotations

import torch
from torch import Tensor

from ._multi import MultiProjector


def _block_traces(Qs: list[Tensor], strengths: Tensor, alpha: float) -> Tensor:
    """$\\tfrac12\\mathrm{tr}(\\Lambda^{-1}(I - Q_jQ_j^T))$ for one block, all j.

    $\\Lambda = \\sum_j \\lambda_j (I - Q_jQ_j^T) + \\alpha I$, an `(n, n)` matrix.
    """
    n = Qs[0].shape[0]
    eye = torch.eye(n, dtype=torch.float64)
    complements = torch.stack([eye - Q @ Q.T for Q in Qs])  # (G, n, n)
    precision = torch.einsum("g,gij->ij", strengths, complements) + alpha * eye
    if alpha > 0:
        covariance = torch.linalg.inv(precision)
    else:
        # alpha = 0: Lambda is singular on the maps every group keeps, where each
        # (I - P_j) vanishes too; the pseudo-inverse gives the alpha -> 0 limit
        covariance = torch.linalg.pinv(precision, hermitian=True)
    return 0.5 * torch.einsum("ij,gji->g", covariance, complements)


def prior_traces(mp: MultiProjector, strengths: Tensor, alpha: float) -> Tensor:
    """Per group, $\\tfrac12\\mathrm{tr}(\\Lambda^{-1}(I - P_j))$ over one layer's
    weight and bias, for the prior precision
    $\\Lambda = \\sum_j \\lambda_j (I - P_j) + \\alpha I$.

    $\\Lambda$ is block-diagonal: one identical `(n, n)` block per copy pair of each
    type pair (and per copy of each output type for the bias), so the trace is
    `n_rows` times a trace of an `(n, n)` inverse — exact and cheap (n <= 729 for
    rank <= 3 tensors in 3-D).

    Args:
        mp: The layer's projectors (one per group, in `mp.groups` order).
        strengths: $\\lambda_j$, float64, shape `(n_groups,)`.
        alpha: Isotropic precision $\\alpha \\ge 0$ (weight decay in prior
            units). With $\\alpha = 0$ (every strength > 0), $\\Lambda$ is singular
            on the maps that all groups keep, where every $I - P_j$ vanishes: the
            trace is the $\\alpha \\to 0$ limit, taken with the pseudo-inverse.

    Returns:
        Float64 tensor of shape `(n_groups,)`.
    """
    if alpha <= 0 and bool((strengths <= 0).any()):
        raise ValueError("the prior needs alpha > 0 or every strength > 0")
    projs = list(mp.projectors.values())
    strengths = strengths.to(torch.float64)
    total = torch.zeros(len(projs), dtype=torch.float64)
    first = projs[0]
    for k, (_, n_rows, _, _, _) in enumerate(first._pairs):
        Qs = [p._exact[p._pairs[k][4]] for p in projs]
        total += n_rows * _block_traces(Qs, strengths, alpha)
    for o, (_, m, _, _) in enumerate(first._bias):
        Qs = [p._exact[p._bias[o][3]] for p in projs]
        total += m * _block_traces(Qs, strengths, alpha)
    return total
