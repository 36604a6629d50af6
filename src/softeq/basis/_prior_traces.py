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


def _woodbury_traces(
    S: Tensor, owner: Tensor, n: int, strengths: Tensor, alpha: float
) -> Tensor:
    """`_block_traces` through the Woodbury identity.

    With the bases of all groups side by side, $U = [Q_1|\\dots|Q_G]$
    (`(n, K)`, Gram matrix $S = U^TU$; `owner` `(K, G)` marks each column's
    group), $d$ the strength of each column and $c = \\sum_j\\lambda_j + \\alpha$:
    $\\Lambda = cI - U\\,\\mathrm{diag}(d)\\,U^T$, so
    $\\Lambda^{-1} = I/c + U M^{-1} U^T/c^2$ with $M = \\mathrm{diag}(1/d) - S/c$
    (positive definite when $\\Lambda$ is; columns with $d = 0$ drop out). Then
    $\\mathrm{tr}\\,\\Lambda^{-1} = n/c + \\mathrm{tr}(M^{-1}S)/c^2$ and
    $\\mathrm{tr}(Q_j^T\\Lambda^{-1}Q_j) = K_j/c + \\sum_{a \\in j}
    (S M^{-1} S)_{aa}/c^2$: one `(K, K)` solve instead of an `(n, n)` inverse.

    With $\\alpha = 0$, $\\Lambda$ vanishes on $N = \\bigcap_j \\mathrm{range}(P_j)$
    (the eigenvectors $Uv/\\sqrt{G}$ of $UU^T = \\sum_j P_j$ with eigenvalue $G$,
    from $Sv = Gv$), and so does every $I - P_j$: the $\\alpha \\to 0$ limit
    $\\mathrm{tr}(\\Lambda^{+}(I - P_j))$ equals $\\mathrm{tr}((\\Lambda +
    cP_N)^{-1}(I - P_j))$, the same identity with the basis of $N$ appended to
    $U$ at strength $-c$ (then $M$ is symmetric but indefinite: an LU solve).
    """
    d = owner @ strengths
    c = float(strengths.sum()) + alpha
    keep = d > 0
    S_x = S[keep]  # U_e^T U: rows of the columns that enter Lambda
    inv_d = 1.0 / d[keep]
    S_ee = S_x[:, keep]
    null = None
    if alpha <= 0:
        evals, V = torch.linalg.eigh(S_ee)
        on_null = evals > int((strengths > 0).sum()) * (1 - 1e-8)
        if bool(on_null.any()):
            null = V[:, on_null] / evals[on_null].sqrt()  # Q_N = U_kept @ null
            S_x = torch.cat([S_x, null.T @ S_x])
            inv_d = torch.cat([inv_d, inv_d.new_full((null.shape[1],), -1.0 / c)])
            S_ee = S_x[:, keep]
            S_ee = torch.cat([S_ee, S_ee @ null], dim=1)
    M = torch.diag(inv_d) - S_ee / c
    if null is None and alpha > 0:
        B = torch.cholesky_solve(S_x, torch.linalg.cholesky(M))  # M^{-1} U_e^T U
    else:
        B = torch.linalg.solve(M, S_x)
    w = (S_x * B).sum(0)  # (U^T U_e M^{-1} U_e^T U)_aa for every column a
    k = int(keep.sum())
    trace_MS = B[:, keep].diagonal().sum()  # tr(M^{-1} U_e^T U_e), kept columns
    if null is not None:
        trace_MS = trace_MS + (B[k:, keep] @ null).diagonal().sum()
    trace_inverse = n / c + float(trace_MS) / c**2
    trace_kept = owner.sum(0) / c + (w @ owner) / c**2
    return 0.5 * (trace_inverse - trace_kept)


def block_traces(
    Q: Tensor, owner: Tensor, strengths: Tensor, alpha: float, *,
    gram: Tensor | None = None,
) -> Tensor:  # fmt: skip
    """$\\tfrac12\\mathrm{tr}(\\Lambda^{-1}(I - Q_jQ_j^T))$ for one block and every
    group j, from the bases side by side, `Q` `(n, K)` (float64), `owner`
    `(K, G)` marking each column's group, and optionally their Gram matrix.

    Woodbury (`_woodbury_traces`) when the groups' columns are fewer than `n`;
    otherwise the dense `(n, n)` (pseudo-)inverse.
    """
    n, K = Q.shape
    owner = owner.to(torch.float64)
    if K < n:
        S = Q.T @ Q if gram is None else gram
        return _woodbury_traces(S, owner, n, strengths, alpha)
    cols = owner.argmax(1)
    Qs = [Q[:, cols == j] for j in range(owner.shape[1])]
    return _block_traces(Qs, strengths, alpha)


def shifted_block_traces(
    Q: Tensor, owner: Tensor, strengths: Tensor, alpha: float, shifts: Tensor, *,
    gram: Tensor | None = None,
) -> Tensor:  # fmt: skip
    """`block_traces` for the precisions $\\Lambda + sI$ of several shifts $s$ at
    once (every $\\alpha + s > 0$): shape `(len(shifts), n_groups)`.

    One eigendecomposition serves every shift. Woodbury path ($K < n$, notation
    of `_woodbury_traces`): with $D = \\mathrm{diag}(d)$ over the columns that
    enter $\\Lambda$ and $D^{1/2}SD^{1/2} = W\\mathrm{diag}(\\mu)W^T$,
    $M^{-1} = D^{1/2}W\\mathrm{diag}(f)W^TD^{1/2}$ with
    $f_k = 1/(1 - \\mu_k/c')$, $c' = c + s$; so $\\mathrm{tr}(M^{-1}S) =
    \\sum_k \\mu_k f_k$ and $\\sum_{a \\in j}(S M^{-1} S)_{aa} = \\sum_k f_k E_{kj}$,
    $E = (W^TD^{1/2}U_e^TU)^{\\circ 2}\\,\\mathrm{owner}$. Dense path: with
    $\\Lambda = V\\mathrm{diag}(\\mu)V^T$, $\\mathrm{tr}((\\Lambda + sI)^{-1}(I - P_j))
    = \\sum_i (1 - \\|Q_j^Tv_i\\|^2)/(\\mu_i + s)$.
    """
    n, K = Q.shape
    owner = owner.to(torch.float64)
    strengths = strengths.to(torch.float64)
    shifts = shifts.to(torch.float64)
    if float((alpha + shifts).min()) <= 0:
        raise ValueError("shifted traces need alpha + shift > 0 for every shift")
    if K >= n:
        cols = owner.argmax(1)
        Qs = [Q[:, cols == j] for j in range(owner.shape[1])]
        eye = torch.eye(n, dtype=torch.float64)
        complements = torch.stack([eye - q @ q.T for q in Qs])
        precision = torch.einsum("g,gij->ij", strengths, complements) + alpha * eye
        mu, V = torch.linalg.eigh(precision)
        weights = torch.stack(
            [1 - (q.T @ V).square().sum(0) for q in Qs], dim=1
        )  # (n, G): (V^T (I - P_j) V)_ii
        return 0.5 * (1 / (mu[None, :] + shifts[:, None])) @ weights
    S = Q.T @ Q if gram is None else gram
    d = owner @ strengths
    c = float(strengths.sum()) + alpha
    keep = d > 0
    root = d[keep].sqrt()
    A = root[:, None] * S[keep][:, keep] * root[None, :]
    mu, W = torch.linalg.eigh(A)
    B = W.T @ (root[:, None] * S[keep])  # (K_e, K)
    E = B.square() @ owner  # (K_e, G)
    cs = c + shifts  # (S,)
    f = 1 / (1 - mu[None, :] / cs[:, None])  # (S, K_e)
    trace_inverse = n / cs + (f * mu[None, :]).sum(1) / cs**2
    trace_kept = owner.sum(0)[None, :] / cs[:, None] + (f @ E) / cs[:, None] ** 2
    return 0.5 * (trace_inverse[:, None] - trace_kept)


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
    blocks = [
        (n_rows, [p._exact[p._pairs[k][4]] for p in projs])
        for k, (_, n_rows, _, _, _) in enumerate(first._pairs)
    ] + [
        (m, [p._exact[p._bias[o][3]] for p in projs])
        for o, (_, m, _, _) in enumerate(first._bias)
    ]
    for rows, Qs in blocks:
        owner = torch.block_diag(*[torch.ones(Q.shape[1], 1) for Q in Qs])
        total += rows * block_traces(
            torch.cat(Qs, dim=1), owner.to(torch.float64), strengths, alpha
        )
    return total
