"""Hidden representations from a channel budget `ch`."""

from __future__ import annotations

from math import comb

from ...groups import Group, as_group
from ...reps import Rep, TensorType

ALLOCATIONS = ("uniform", "per")


def max_rank(ch: int, d: int) -> int:
    """Largest r with $(r + 1)\\,d^r \\le ch$ (0 if none)."""
    r = 0
    while (r + 2) * d ** (r + 1) <= ch:
        r += 1
    return r


def _counts_uniform(ch: int, d: int) -> list[int]:
    """EMLP's heuristic: blocks $[d^r V^0, d^{r-1} V, ..., 1\\,V^r]$ with r recomputed
    for what is left, until the budget is spent; exactly `ch` channels."""
    counts: list[int] = []
    while ch > 0:
        r = max_rank(ch, d)
        counts += [0] * (r + 1 - len(counts))
        for k in range(r + 1):
            counts[k] += d ** (r - k)
        ch -= (r + 1) * d**r
    return counts


def _counts_per(ch: int, d: int) -> list[int]:
    """The reference's `uniform_reps`: the block for the first r_max repeated until
    the budget is <= 0 (it overshoots: ch=128 gives 216 channels)."""
    r = max_rank(ch, d)
    counts = [0] * (r + 1)
    while ch > 0:
        for k in range(r + 1):
            counts[k] += d ** (r - k)
        ch -= (r + 1) * d**r
    return counts


def _split_duals(count: int, rank: int) -> list[tuple[int, TensorType]]:
    """Spread `count` rank-`rank` tensors over $T(p, rank - p)$ binomially, the
    remainder to the types with most V factors first (deterministic)."""
    weights = [comb(rank, q) for q in range(rank + 1)]
    per_round, leftover = divmod(count, 2**rank)
    out = [per_round * w for w in weights]
    for q in range(rank + 1):
        take = min(leftover, weights[q])
        out[q] += take
        leftover -= take
    return [(n, TensorType.of(rank - q, q)) for q, n in enumerate(out) if n]


def allocate(ch: int, group: Group | str, allocation: str = "uniform") -> Rep:
    """Hidden representation for a channel budget.

    * ``"uniform"`` — EMLP's `uniform_rep`: exactly `ch` channels spread over tensor
      ranks with multiplicities $d^{r-k}$ (ch=128, d=3: 38V0+12V+3V2+V3). For
      non-orthogonal groups rank-r tensors are split binomially over
      $T(p, r-p)$ (deterministic, unlike EMLP's random remainder).
    * ``"per"`` — the reference's allocation, for paper parity: ch=128 gives
      54V0+18V+6V2+2V3 and ch=384 gives 108V0+36V+12V2+4V3 (no duals).

    Args:
        ch: Channel budget (>= 1).
        group: Group (or registry name) of the hidden layers.
        allocation: ``"uniform"`` or ``"per"``.

    Example:
        >>> from softeq.groups import get
        >>> allocate(128, "O3", "per"), allocate(128, get("O3"))
        (54V0+18V+6V2+2V3, 38V0+12V+3V2+V3)
    """
    group = as_group(group)
    if not isinstance(ch, int) or ch < 1:
        raise ValueError(f"ch must be an integer >= 1, got {ch!r}")
    if allocation not in ALLOCATIONS:
        raise ValueError(f"allocation must be one of {ALLOCATIONS}, got {allocation!r}")
    if allocation == "per":
        counts = _counts_per(ch, group.d)
        blocks = [(n, TensorType.of(r)) for r, n in enumerate(counts) if n]
        return Rep(group, blocks)
    counts = _counts_uniform(ch, group.d)
    blocks: list[tuple[int, TensorType]] = []
    for r, n in enumerate(counts):
        if n == 0:
            continue
        if group.is_orthogonal() or r == 0:
            blocks.append((n, TensorType.of(r)))
        else:
            blocks += _split_duals(n, r)
    return Rep(group, blocks)
