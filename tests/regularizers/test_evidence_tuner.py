from __future__ import annotations

import pytest
import torch

from softeq.basis import bias_projector_matrix, prior_traces, projector_matrix
from softeq.groups import get
from softeq.nn import SoftLinear
from softeq.regularizers import EvidenceTuner, ProjectionPenalty, gauss_newton_diagonals
from softeq.reps import parse

NAMES = ["O3", "O2x", "O2z"]


def layer(generator):
    Gs = [get(n) for n in NAMES]
    return SoftLinear(parse("2*V0+V", Gs[0]), parse("V+V2", Gs[0]), Gs,
                      generator=generator).double()  # fmt: skip


def dense_traces(lay, lam, alpha, diagonal=None):
    """1/2 tr(L^-1 (I - P_j)) per group from the dense projectors, with
    L = sum_j lam_j (I - P_j) + alpha I (+ diag(diagonal) over W then b)."""
    out = torch.zeros(len(NAMES), dtype=torch.float64)
    n_w = lay.weight.numel()
    for k, Ps in enumerate((
        [projector_matrix(lay.rep_in.with_group(g), lay.rep_out.with_group(g))
         for g in lay.groups],
        [bias_projector_matrix(lay.rep_out.with_group(g)) for g in lay.groups],
    )):  # fmt: skip
        eye = torch.eye(Ps[0].shape[0], dtype=torch.float64)
        extra = 0.0
        if diagonal is not None:
            extra = torch.diag(diagonal[:n_w] if k == 0 else diagonal[n_w:])
        cov = torch.linalg.inv(
            sum(s * (eye - P) for s, P in zip(lam, Ps, strict=True))
            + alpha * eye
            + extra
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


def inputs(lay, generator, n=64):
    return torch.randn(n, lay.rep_in.dim, dtype=torch.float64, generator=generator)


def test_fixed_point_is_stationary(generator):
    lay = layer(generator)
    x = inputs(lay, generator)
    t = tuner(damping=1.0)
    beta = 1000 / (2 * 0.5)
    T = t.traces(lay, beta, t.curvature(lay, x, 0.5))
    before = dict(t.strengths)
    t.step(0, T, lay, train_mse=0.5, inputs=x)  # penalties equal T: no change
    assert t.strengths == pytest.approx(before)


def n_entries(lay):
    return lay.weight.numel() + lay.bias.numel()


@pytest.mark.parametrize("shift", [1e-3, 2.0, 1e4])
def test_posterior_traces_equal_the_dense_computation(shift, generator):
    """T_j = 1/2 tr(L^-1 (I - P_j)) - 1/2 tr((L + h I)^-1 (I - P_j)), in prior
    units (lambda = beta s, alpha = beta wd)."""
    lay = layer(generator)
    t = tuner()
    t.strengths = {"O3": 0.5, "O2x": 2.0, "O2z": 30.0}
    beta = 3.0
    lam = [beta * t.strengths[n] for n in NAMES]
    alpha = beta * t.weight_decay
    flat = torch.full((n_entries(lay),), shift, dtype=torch.float64)
    got = t.traces(lay, beta, [flat])
    want = dense_traces(lay, lam, alpha) - dense_traces(lay, lam, alpha + shift)
    torch.testing.assert_close(
        torch.tensor([got[n] for n in NAMES], dtype=torch.float64), want
    )
    assert all(v > 0 for v in got.values())


def test_curvature_is_averaged_per_block(generator):
    """The posterior takes the curvature isotropic on each type-pair block: a
    diagonal that is constant per block gives the dense traces exactly, and any
    diagonal gives the same traces as its block means."""
    from softeq.basis import ProjectorStack

    lay = layer(generator)
    pieces = ProjectorStack([lay.projectors])._layout((True,)).pieces
    means = torch.zeros(n_entries(lay), dtype=torch.float64)
    noisy = torch.zeros(n_entries(lay), dtype=torch.float64)
    for b, block in enumerate(pieces):
        for piece in block:
            means[piece] = 0.5 + 2.0 * b
            wobble = torch.rand(len(piece), dtype=torch.float64, generator=generator)
            noisy[piece] = means[piece] + wobble - wobble.mean()
    t = tuner()
    t.strengths = {"O3": 0.5, "O2x": 2.0, "O2z": 30.0}
    lam = [t.strengths[n] for n in NAMES]
    got = t.traces(lay, 1.0, [means])
    want = dense_traces(lay, lam, 1e-3) - dense_traces(lay, lam, 1e-3, means)
    torch.testing.assert_close(
        torch.tensor([got[n] for n in NAMES], dtype=torch.float64), want
    )
    assert t.traces(lay, 1.0, [noisy]) == pytest.approx(got, rel=1e-9)


def test_gauss_newton_diagonals_of_a_linear_layer(generator):
    """For f(x) = W x + b, diag sum_i J_i^T J_i is sum_i x_ik^2 on W_ok and N on
    b_o."""
    lay = layer(generator)
    x = inputs(lay, generator, n=40)
    d_out = lay.rep_out.dim
    exact = torch.cat(
        [x.square().sum(0).repeat(d_out), torch.full((d_out,), float(len(x)))]
    )
    gen = torch.Generator().manual_seed(0)
    (h,) = gauss_newton_diagonals(lay, x, samples=64, probes=400, generator=gen)
    assert h.shape == exact.shape
    n_w = lay.weight.numel()
    for part in (slice(0, n_w), slice(n_w, None)):
        assert float(h[part].mean()) == pytest.approx(
            float(exact[part].mean()), rel=0.05
        )
    assert float((h / exact - 1).abs().median()) < 0.1  # entry by entry
    (sub,) = gauss_newton_diagonals(lay, x, samples=20, probes=400, generator=gen)
    assert float(sub.mean()) == pytest.approx(float(exact.mean()), rel=0.1)
    with pytest.raises(ValueError, match="probes >= 1"):
        gauss_newton_diagonals(lay, x, probes=0)
    with pytest.raises(ValueError, match="no SoftLinear"):
        gauss_newton_diagonals(torch.nn.Linear(2, 2), x)


def test_groups_the_weights_respect_get_larger_strengths(generator):
    lay = layer(generator)
    with torch.no_grad():
        lay.project_("O2z")
        lay.weight.add_(1e-3 * torch.randn(lay.weight.shape, dtype=torch.float64,
                                           generator=generator))  # fmt: skip
    x = inputs(lay, generator)
    penalty = ProjectionPenalty(lay)
    t = tuner(damping=0.5)
    for epoch in range(30):
        values = {k: float(v) for k, v in penalty(exact=True).items()}
        t.step(epoch, values, lay, train_mse=0.1, inputs=x)
    s = t.strengths
    assert s["O2z"] > 10 * s["O2x"] and s["O2z"] > 10 * s["O3"]


def test_every_and_state_and_errors(generator):
    lay = layer(generator)
    x = inputs(lay, generator)
    t = EvidenceTuner(NAMES, init=1.0, weight_decay=1e-3, n_targets=10, every=5)
    values = {n: 1.0 for n in NAMES}
    for epoch in range(4):
        t.step(epoch, values, lay, train_mse=1.0, inputs=x)
    assert t.updates == 0
    t.step(4, values, lay, train_mse=1.0, inputs=x)
    assert t.updates == 1
    other = EvidenceTuner(NAMES, init=1.0, weight_decay=1e-3, n_targets=10)
    other.load_state_dict(t.state_dict())
    assert other.strengths == t.strengths and other.updates == 1
    with pytest.raises(ValueError, match="needs the model, train_mse and inputs"):
        t.step(9, values, lay, train_mse=1.0)
    with pytest.raises(ValueError, match="init > 0"):
        EvidenceTuner(NAMES, init=0.0, weight_decay=1e-3, n_targets=10)
    with pytest.raises(ValueError, match="samples >= 1"):
        EvidenceTuner(NAMES, weight_decay=1e-3, n_targets=10, samples=0)
    with pytest.raises(ValueError, match="start >= 1"):
        EvidenceTuner(NAMES, weight_decay=1e-3, n_targets=10, start=0)
    with pytest.raises(ValueError, match="expected 1 curvature diagonals"):
        t.traces(lay, 1.0, [torch.ones(n_entries(lay))] * 2)
    with pytest.raises(ValueError, match="one curvature diagonal per layer"):
        t.traces(lay, 1.0, [torch.ones(3)])


def test_diagnostics_count_the_directions_the_data_determine(generator):
    """After an update, ``determined/<g>`` is $\\gamma_j = 2\\lambda_jT_j$ at the
    strengths before it (between 0 and the directions off the group's maps)
    and ``noise`` the training MSE; a step that does not update reports none."""
    lay = layer(generator)
    x = inputs(lay, generator)
    t = EvidenceTuner(NAMES, init=0.5, weight_decay=1e-3, n_targets=40, every=2)
    values = {k: float(v) for k, v in ProjectionPenalty(lay)(exact=True).items()}
    t.step(0, values, lay, train_mse=0.3, inputs=x)
    assert t.diagnostics() == {}
    beta = 40 / (2 * 0.3)
    before = dict(t.strengths)
    T = t.traces(lay, beta, t.curvature(lay, x, 0.3))  # the update's own probe
    t.step(1, values, lay, train_mse=0.3, inputs=x)
    got = t.diagnostics()
    assert set(got) == {"noise", "determined/O2x", "determined/O2z"}
    assert got["noise"] == 0.3
    kept = {
        g.name: float(projector_matrix(lay.rep_in.with_group(g),
                                       lay.rep_out.with_group(g)).trace()
                      + bias_projector_matrix(lay.rep_out.with_group(g)).trace())
        for g in lay.groups
    }  # fmt: skip
    dims = {g: n_entries(lay) - round(kept[g]) for g in NAMES}
    for g in ("O2x", "O2z"):
        assert got[f"determined/{g}"] == pytest.approx(2 * beta * before[g] * T[g])
        assert 0 < got[f"determined/{g}"] <= dims[g]
    t.step(2, values, lay, train_mse=0.3, inputs=x)
    assert t.diagnostics() == {}


@pytest.mark.parametrize(
    "lam", [[0.5, 2.0, 30.0], [1e-6, 1.0, 1e6], [0.0, 3.0, 0.2]], ids=str
)
def test_woodbury_block_traces_equal_the_dense_inverse(lam, generator):
    """`block_traces` takes the Woodbury path on blocks with fewer columns than
    rows; it equals the dense (n, n) inverse (pseudo-inverse without weight
    decay), strengths spanning 12 orders of magnitude and a zero strength
    included."""
    from softeq.basis._prior_traces import _block_traces, block_traces

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
    from softeq.nn import soft_layers
    from softeq.nn.models import SoftEMLP

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


@pytest.mark.parametrize("wd", [1e-3, 0.0])
def test_stacked_posterior_traces_equal_the_sum_over_layers(wd, generator):
    """With per-layer curvatures (one eigendecomposition per shared block, for
    the prior too when wd > 0), the stack equals the per-layer computation."""
    from softeq.nn import soft_layers
    from softeq.nn.models import SoftEMLP

    G = [get(n) for n in NAMES]
    model = SoftEMLP(parse("2*V0+V", G[0]), parse("V", G[0]), G, ch=24)
    layers = soft_layers(model)
    shifts = [0.5 * (k + 1) for k in range(len(layers))]
    shifts[1] = shifts[-1]  # two layers with the same shift
    shifts[0] = 0.0  # no data curvature: the layer adds nothing
    diagonals = [
        torch.full((n_entries(layer),), s, dtype=torch.float64)
        for layer, s in zip(layers, shifts, strict=True)
    ]
    t = EvidenceTuner(NAMES, weight_decay=wd, n_targets=1000)
    lam = torch.tensor([3.0, 0.5, 40.0], dtype=torch.float64)
    t.strengths = dict(zip(NAMES, lam.tolist(), strict=True))
    stacked = t.traces(model, 1.0, diagonals)
    per_layer = sum(
        prior_traces(layer.projectors, lam, wd)
        - prior_traces(layer.projectors, lam, wd + s)
        for layer, s in zip(layers, shifts, strict=True)
    )
    torch.testing.assert_close(
        torch.tensor([stacked[n] for n in NAMES], dtype=torch.float64), per_layer
    )


@pytest.mark.parametrize("alpha", [0.0, 0.01])
@pytest.mark.parametrize("rep, pair", [("V2", 0), ("V0+V", 0), ("V0+V", -1)])
def test_shifted_block_traces_equal_one_solve_per_shift(rep, pair, alpha, generator):
    """One eigendecomposition for many shifts (Woodbury path on V2 -> V2 and
    V -> V, dense path on V0 -> V0, where the groups' columns outnumber the
    rows) equals `block_traces` at alpha + shift."""
    from softeq.basis._prior_traces import block_traces, shifted_block_traces

    G = [get(n) for n in NAMES]
    mp = SoftLinear(parse(rep, G[0]), parse(rep, G[0]), G).projectors
    projs = list(mp.projectors.values())
    Qs = [p._exact[p._pairs[pair][4]] for p in projs]
    Q = torch.cat(Qs, dim=1)
    owner = torch.block_diag(*[torch.ones(q.shape[1], 1) for q in Qs]).double()
    assert (Q.shape[1] >= Q.shape[0]) == (rep == "V0+V" and pair == 0)
    shifts = torch.tensor([1e-4, 0.3, 50.0, 1e5], dtype=torch.float64)
    for lam in ([0.5, 2.0, 30.0], [0.0, 3.0, 0.2]):
        strengths = torch.tensor(lam, dtype=torch.float64)
        got = shifted_block_traces(Q, owner, strengths, alpha, shifts)
        want = torch.stack(
            [block_traces(Q, owner, strengths, alpha + float(s)) for s in shifts]
        )
        torch.testing.assert_close(got, want, rtol=1e-7, atol=1e-12)
    with pytest.raises(ValueError, match="alpha \\+ shift > 0"):
        shifted_block_traces(Q, owner, strengths, 0.0, torch.zeros(1))


def test_layers_with_different_candidates_are_summed_layer_by_layer(generator):
    """Soft layers that do not share their candidates cannot be stacked: each
    layer is its own stack and the traces add up, per group."""
    G = [get(n) for n in NAMES]
    first = SoftLinear(parse("2*V0+V", G[0]), parse("V", G[0]), G, generator=generator)
    second = SoftLinear(parse("V", G[0]), parse("V+V0", G[0]), [G[0], G[2]],
                        generator=generator)  # fmt: skip
    model = torch.nn.Sequential(first, second).double()
    diagonals = [
        torch.full((n_entries(lay),), h, dtype=torch.float64)
        for lay, h in ((first, 0.7), (second, 3.0))
    ]
    t = tuner()
    got = t.traces(model, 2.0, diagonals)
    one = t.traces(first, 2.0, diagonals[:1])
    two = t.traces(second, 2.0, diagonals[1:])
    assert got == pytest.approx({n: one[n] + two.get(n, 0.0) for n in NAMES})
    assert two["O2x"] == 0.0 and got["O2x"] == pytest.approx(one["O2x"])


def test_the_largest_group_stays_at_zero_unless_tuned(generator):
    lay = layer(generator)
    x = inputs(lay, generator)
    values = {k: float(v) for k, v in ProjectionPenalty(lay)(exact=True).items()}
    kept = tuner(damping=1.0)
    assert kept.strengths["O3"] == 0.0 and kept.tuned == ["O2x", "O2z"]
    kept.step(0, values, lay, train_mse=0.5, inputs=x)
    assert kept.strengths["O3"] == 0.0
    assert kept.strengths["O2x"] != 1.0 and kept.strengths["O2z"] != 1.0
    tuned = tuner(damping=1.0, tune_largest=True)
    tuned.step(0, values, lay, train_mse=0.5, inputs=x)
    assert tuned.tuned == NAMES and tuned.strengths["O3"] not in (0.0, 1.0)
    # a single candidate has nothing to stand in for it: it is always tuned
    alone = EvidenceTuner(["O2z"], init=1.0, weight_decay=1e-3, n_targets=10)
    assert alone.strengths == {"O2z": 1.0} and alone.tuned == ["O2z"]


def test_zero_largest_strength_without_weight_decay(generator):
    # motion presets have no weight decay: the prior is singular where every
    # penalised group's maps agree; the posterior traces still exist
    lay = layer(generator)
    x = inputs(lay, generator)
    values = {k: float(v) for k, v in ProjectionPenalty(lay)(exact=True).items()}
    t = EvidenceTuner(NAMES, init=1.0, weight_decay=0.0, n_targets=1000, every=1)
    t.step(0, values, lay, train_mse=0.5, inputs=x)
    assert t.strengths["O3"] == 0.0
    assert all(0 < t.strengths[g] < float("inf") for g in ("O2x", "O2z"))


def test_no_update_before_start_then_every_every_epochs(generator):
    """With `start`, the strengths stay at `init` through epoch start - 1
    (1-based) and move first at `start`, then every `every` epochs."""
    lay = layer(generator)
    x = inputs(lay, generator)
    t = EvidenceTuner(NAMES, init=1.0, weight_decay=1e-3, n_targets=1000, every=3,
                      start=7)  # fmt: skip
    values = {k: float(v) for k, v in ProjectionPenalty(lay)(exact=True).items()}
    moved = []
    for epoch in range(13):
        before = dict(t.strengths)
        t.step(epoch, values, lay, train_mse=0.1, inputs=x)
        if t.strengths != before:
            moved.append(epoch + 1)
    assert moved == [7, 10, 13] and t.updates == 3


def test_a_trainer_starts_the_evidence_tuner_at_adjust_at():
    from softeq.data import get_task
    from softeq.train import TrainConfig
    from softeq.train._config import resolve_config
    from softeq.train._setup import make_tuner

    task = get_task("inertia:o2z")
    for preset in ("converged", "fast", "paper"):
        config = resolve_config(
            TrainConfig(
                task="inertia:o2z", model="per", tuner="evidence", preset=preset
            )
        )
        tuner = make_tuner(config, task)
        assert isinstance(tuner, EvidenceTuner)
        assert tuner.start == config.adjust_at and tuner.every == config.tuner_every
