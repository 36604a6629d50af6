"""A model's training forward and backward replayed from CUDA graphs."""

from __future__ import annotations

import warnings

import torch
from torch import Tensor, nn

# torch warns on every backward through the replayed graphs: the parameters'
# gradient accumulators were made on the capture stream. Autograd synchronises the
# two streams itself, so the results are right; the warning is only noise.
_STREAM_WARNING = "The AccumulateGrad node's stream does not match"
# emitted once by the capture's own backward on a fresh autograd device thread
_CONTEXT_WARNING = "Attempting to run cuBLAS, but there was no current CUDA context"


class _Holder(nn.Module):
    """Calls `model`; `make_graphed_callables` replaces this holder's `forward`,
    so the model itself keeps its eager `forward` for every other use."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


class GraphedForward:
    """`model(x)` for training batches, replayed from CUDA graphs.

    An EMLP-shaped model launches a few hundred small kernels per training step
    (the bilinear layers' per-sample products); on a GPU the host spends far
    longer launching them than the device spends running them. This captures the
    model's forward and backward for inputs of one shape once
    (`torch.cuda.make_graphed_callables`) and replays both graphs on every call
    with that shape, in training mode, with gradients enabled. Any other call (a
    last, smaller batch; evaluation; a tuner's probe) runs the eager model, which
    shares the same parameters.

    The captured code must not synchronise with the host or read host memory:
    true of softeq's MLP, EMLP, RPP and SoftEMLP, not of wrappers that draw group
    elements on the CPU per batch (`GroupAugmentation`). Loading a state dict
    copies into the same parameter tensors, so the graphs stay valid after a
    resume or a best-model restore.

    Args:
        model: A module on a CUDA device, in training mode.
        sample: A batch of the shape to capture, on the same device.
        warmup: Eager iterations before capture (gradients are not accumulated).

    Example:
        >>> import torch
        >>> if torch.cuda.is_available():  # doctest: +SKIP
        ...     model = torch.nn.Linear(4, 2).cuda()
        ...     forward = GraphedForward(model, torch.randn(8, 4, device="cuda"))
        ...     forward(torch.randn(8, 4, device="cuda")).sum().backward()
    """

    def __init__(self, model: nn.Module, sample: Tensor, *, warmup: int = 3) -> None:
        if sample.device.type != "cuda":
            raise ValueError(
                f"GraphedForward needs a CUDA sample, got one on {sample.device}"
            )
        devices = {p.device for p in model.parameters()}
        if devices != {sample.device}:
            where = sorted(map(str, devices))
            raise ValueError(
                f"GraphedForward: the model's parameters are on {where} but the "
                f"sample is on {sample.device}"
            )
        self.model = model
        self.shape = tuple(sample.shape)
        was_training = model.training
        model.train()
        # the static input must own its memory: every replay copies the batch into
        # it, which would overwrite the data a view of `sample` points into
        static = sample.detach().clone()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_CONTEXT_WARNING)
            warnings.filterwarnings("ignore", message=_STREAM_WARNING)
            self._graphed = torch.cuda.make_graphed_callables(
                _Holder(model), (static,), num_warmup_iters=warmup,
                allow_unused_input=True,
            )  # fmt: skip
        model.train(was_training)

    def __call__(self, x: Tensor) -> Tensor:
        graphed = (
            tuple(x.shape) == self.shape
            and self.model.training
            and torch.is_grad_enabled()
        )
        return self._graphed(x) if graphed else self.model(x)


def backward(loss: Tensor) -> None:
    """`loss.backward()` without torch's stream-mismatch warning, which every
    backward through `GraphedForward`'s graphs raises (see `_STREAM_WARNING`)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_STREAM_WARNING)
        loss.backward()
