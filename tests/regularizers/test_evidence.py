from __future__ import annotations

import pytest
import torch

from softeq.basis import bias_projector_matrix, prior_traces, projector_matrix
from softeq.groups import get
from softeq.nn import SoftLinear
from softeq.regularizers import EvidenceTuner, ProjectionPenalty
from softeq.reps import parse

NAMES = ["O3", "O2x", "O2z"]


def layer(generator):
    Gs = [get(n) for n in NAMES]
    return SoftLinear(parse("2*V0+V", Gs[0]), parse("V+V2", Gs[0]), Gs,
                      generator=generator).double()  # fmt: skip


def dense_traces(lay, lam, alpha):
    out = torch.zeros(len(NAMES), dtype=torch.float64)
    for Ps in (
        [projector_matrix(lay.rep_in.with_group(g), lay.rep_out.with_group(g))
         for g in lay.groups],
        [bias_projector_matrix(lay.rep_out.with_group(g)) for g in lay.groups],
    ):  # fmt: skip
        eye = torch.eye(Ps[0].shape[0], dtype=torch.float64)
        cov = torch.linalg.inv(
            sum(s * (eye - P) for s, P in zip(lam, Ps, strict=True)) + alpha * eye
        )
        out += torch.stack([0.5 * torch.trace(cov @ (eye - P)) for P in Ps])
    return out


@pytest.mark.parametrize("alpha", [0.1, 3.0])
def test_block_traces_equal_the_dense_computation(alpha, generator):
    lay = layer(generator)
    lam = torch.tensor([0.5, 2.0, 30.0], dtype=torch.float64)
    torch.testing.assert_close(prior_traces(lay.projectors, lam, alpha),
                               dense_traces(lay, lam, alpha))  # fmt: skip


def test_zero_weight_decay_is_the_small_alpha_limit(generator):
    """With every strength > 0 and alpha = 0, Lambda is singular (on the maps all
    groups keep) but the traces are finite: the alpha -> 0 limit."""
    lay = layer(generator)
    lam = torch.tensor([0.5, 2.0, 30.0], dtype=torch.float64)
    at_zero = prior_traces(lay.projectors, lam, 0.0)
    assert torch.isfinite(at_zero).all()
    torch.testing.assert_close(at_zero, dense_traces(lay, lam, 1e-9), rtol=1e-6,
                               atol=1e-9)  # fmt: skip


def test_prior_traces_need_a_proper_prior(generator):
    lay = layer(generator)
    with pytest.raises(ValueError, match="alpha > 0"):
        prior_traces(lay.projectors, torch.tensor([0.0, 1.0, 1.0]), 0.0)


def tuner(**kw):
    return EvidenceTuner(NAMES, init=1.0, weight_decay=1e-3, n_targets=1000, every=1,
                         **kw)  # fmt: skip


def test_fixed_point_is_stationary(generator):
    lay = layer(generator)
    t = tuner(damping=1.0)
    beta = 1000 / (2 * 0.5)
    T = t.traces(lay, beta)
    before = dict(t.strengths)
    t.step(0, T, lay, train_mse=0.5)  # penalties equal to the traces: no change
    assert t.strengths == pytest.approx(before)


def test_groups_the_weights_respect_get_larger_strengths(generator):
    lay = layer(generator)
    with torch.no_grad():
        lay.project_("O2z")
        lay.weight.add_(1e-3 * torch.randn(lay.weight.shape, dtype=torch.float64,
                                           generator=generator))  # fmt: skip
    penalty = ProjectionPenalty(lay)
    t = tuner(damping=0.5)
    for epoch in range(30):
        values = {k: float(v) for k, v in penalty(exact=True).items()}
        t.step(epoch, values, lay, train_mse=0.1)
    s = t.strengths
    assert s["O2z"] > 10 * s["O2x"] and s["O2z"] > 10 * s["O3"]


def test_every_and_state_and_errors(generator):
    lay = layer(generator)
    t = EvidenceTuner(NAMES, init=1.0, weight_decay=1e-3, n_targets=10, every=5)
    values = {n: 1.0 for n in NAMES}
    for epoch in range(4):
        t.step(epoch, values, lay, train_mse=1.0)
    assert t.updates == 0
    t.step(4, values, lay, train_mse=1.0)
    assert t.updates == 1
    other = EvidenceTuner(NAMES, init=1.0, weight_decay=1e-3, n_targets=10)
    other.load_state_dict(t.state_dict())
    assert other.strengths == t.strengths and other.updates == 1
    with pytest.raises(ValueError, match="needs the model and train_mse"):
        t.step(9, values)
    with pytest.raises(ValueError, match="init > 0"):
        EvidenceTuner(NAMES, init=0.0, weight_decay=1e-3, n_targets=10)


@pytest.mark.parametrize(
    "lam", [[0.5, 2.0, 30.0], [1e-6, 1.0, 1e6], [0.0, 3.0, 0.2]], ids=str
)
def test_woodbury_block_traces_equal_the_dense_inverse(lam, generator):
    """`block_traces` takes the Woodbury path on blocks with fewer columns than
    rows; it equals the dense (n, n) inverse (pseudo-inverse without weight
    decay), strengths spanning 12 orders of magnitude and a zero strength
    included."""
    from softeq.basis._evidence import _block_traces, block_traces

    G = [get(n) for n in NAMES]
    mp = SoftLinear(parse("V2", G[0]), parse("V2", G[0]), G).projectors
    projs = list(mp.projectors.values())
    Qs = [p._exact[p._pairs[0][4]] for p in projs]  # V2 -> V2: n = 81
    Q = torch.cat(Qs, dim=1)
    assert Q.shape[1] < Q.shape[0]
    owner = torch.block_diag(*[torch.ones(q.shape[1], 1) for q in Qs]).double()
    strengths = torch.tensor(lam, dtype=torch.float64)
    alphas = [0.01] + ([0.0] if min(lam) > 0 else [])  # 0: the pinv limit
    for alpha in alphas:
        torch.testing.assert_close(
            block_traces(Q, owner, strengths, alpha),
            _block_traces(Qs, strengths, alpha),
            rtol=1e-7,
            atol=0.0,
        )


def test_stacked_traces_equal_the_sum_over_layers(generator):
    """The tuner's traces of a whole SoftEMLP (one `ProjectorStack`, shared blocks
    counted once) equal the per-layer sum."""
    from softeq.nn.models import SoftEMLP
    from softeq.regularizers import soft_layers

    G = [get(n) for n in NAMES]
    model = SoftEMLP(parse("2*V0+V", G[0]), parse("V", G[0]), G, ch=24)
    t = tuner()
    lam = torch.tensor([3.0, 0.5, 40.0], dtype=torch.float64)
    t.strengths = dict(zip(NAMES, lam.tolist(), strict=True))
    stacked = t.traces(model, beta=1.0)
    per_layer = sum(
        prior_traces(layer.projectors, lam, 1e-3) for layer in soft_layers(model)
    )
    torch.testing.assert_close(
        torch.tensor([stacked[n] for n in NAMES], dtype=torch.float64), per_layer
    )
