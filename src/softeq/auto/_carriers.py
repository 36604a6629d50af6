"""Several models to carry the symmetries, validation choosing among them.

`fit` finds the symmetries of the data and uses them *for one model*. Which model
carries them best depends on the data: on PER's inertia settings PER's SoftEMLP
(whose hidden layers can stay O(3)-equivariant while its output layer carries the
breaking) beats an MLP by 2-20x; on its cosine-similarity settings the MLP is the
better carrier. `softeq.auto.fit_carriers` runs `fit_task` once per `Carrier` and
`keep_best` keeps the fit whose chosen model has the lowest validation MSE, so the
test split never chooses (each carrier's test MSE is measured by its own fit, and
recorded).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from torch import nn

from .._atomic import write_text_atomic


@dataclass(frozen=True)
class Carrier:
    """One model `fit` may carry the symmetries with, with its own options.

    Attributes:
        model: ``"mlp"``, ``"per"``, ``"emlp"`` or your own `nn.Module` (as
            `fit`'s `model`).
        hidden: `fit`'s `hidden` for this carrier.
        nonlinear_group: `fit`'s `nonlinear_group` for this carrier.
        soft_tuner: `fit`'s `soft_tuner` for this carrier.
        soft: `fit`'s `soft` for this carrier.
        per_strengths: `fit`'s `per_strengths` for this carrier.
        label: Its name in `Fit.carriers` and its folder under `fit`'s `out`;
            None for `default_label`.

    Example:
        >>> Carrier("per", hidden=True).name
        'per-hidden'
        >>> Carrier("mlp", soft_tuner="choose", label="mlp+per-tuner").name
        'mlp+per-tuner'
    """

    model: str | nn.Module
    hidden: bool | str = False
    nonlinear_group: str | None = None
    soft_tuner: str | None = None
    soft: bool | None = None
    per_strengths: float | Sequence[float] | None = None
    label: str | None = None

    @property
    def name(self) -> str:
        """`label`, or a name made of the model and the options set."""
        return self.label if self.label is not None else default_label(self)

    def options(self) -> dict[str, Any]:
        """`fit_task`'s keyword arguments for this carrier."""
        return {"model": self.model, "hidden": self.hidden,
                "nonlinear_group": self.nonlinear_group,
                "soft_tuner": self.soft_tuner, "soft": self.soft,
                "per_strengths": self.per_strengths}  # fmt: skip


def default_label(carrier: Carrier) -> str:
    """The model's name (``custom`` for a module), then each option set, in
    `Carrier`'s order: ``per-hidden``, ``mlp-tuner-choose``,
    ``per-nonlinear-SO3``."""
    model = carrier.model
    parts = [type(model).__name__ if isinstance(model, nn.Module) else str(model)]
    if carrier.hidden is True:
        parts.append("hidden")
    elif carrier.hidden:
        parts.append(f"hidden-{carrier.hidden}")
    if carrier.nonlinear_group is not None:
        parts.append(f"nonlinear-{carrier.nonlinear_group}")
    if carrier.soft_tuner is not None:
        parts.append(f"tuner-{carrier.soft_tuner}")
    if carrier.soft is not None:
        parts.append("soft" if carrier.soft else "no-soft")
    if carrier.per_strengths is not None:
        parts.append("per-strengths")
    return "-".join(parts)


def as_carriers(models: Sequence[Any], **options: Any) -> list[Carrier]:
    """`fit`'s `model` given as a sequence, as carriers: each `Carrier` as it
    is, each model name or module with `fit`'s own `options` (`hidden`,
    `nonlinear_group`, `soft_tuner`, `soft`, `per_strengths`).

    Raises:
        ValueError: For an empty sequence, an item that is no carrier, model
            name or module, or two carriers of the same name.

    Example:
        >>> [c.name for c in as_carriers(["mlp", "per", Carrier("per", hidden=True)])]
        ['mlp', 'per', 'per-hidden']
    """
    if isinstance(models, str | nn.Module) or not len(models):
        raise ValueError(
            f"fit: several models to choose among need a non-empty list, got {models!r}"
        )
    carriers = []
    for item in models:
        if isinstance(item, Carrier):
            carriers.append(item)
        elif isinstance(item, str | nn.Module):
            carriers.append(Carrier(item, **options))
        else:
            raise ValueError(
                "fit: each model to choose among must be a model name, an "
                f"nn.Module or a softeq.auto.Carrier, got {item!r}"
            )
    names = [c.name for c in carriers]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(
            f"fit: two models to choose among have the same name {twice}: give "
            "them a Carrier(..., label=...) each"
        )
    return carriers


def keep_best(fits: dict[str, Any], out: Path | None = None) -> Any:
    """The fit, among the carriers' `fits` (by carrier name), whose chosen model
    has the lowest validation MSE, with `Fit.carrier` its name and
    `Fit.carriers` every carrier's validation MSE; written to `out` (the kept
    fit's ``fit.json`` and ``model.pt``, and a ``report.md`` that starts with
    the carriers' validation MSEs) when given.

    Raises:
        ValueError: For no fits.
    """
    if not fits:
        raise ValueError("keep_best needs at least one carrier's fit")
    scores = {name: f.val_mse[f.candidate] for name, f in fits.items()}
    best = min(scores, key=scores.__getitem__)
    result = replace(fits[best], carrier=best, carriers=scores)
    if out is not None:
        _write(result, Path(out))
    return result


def render_carriers(carriers: dict[str, float], chosen: str) -> str:
    """Markdown: each carrier's validation MSE, best first, the chosen marked.

    Example:
        >>> print(render_carriers({"mlp": 0.2, "per": 0.05}, "per"))
        | carrier | validation MSE |
        |---|---|
        | **per** (chosen) | 0.05 |
        | mlp | 0.2 |
    """
    lines = ["| carrier | validation MSE |", "|---|---|"]
    for name, mse in sorted(carriers.items(), key=lambda kv: kv[1]):
        label = f"**{name}** (chosen)" if name == chosen else name
        lines.append(f"| {label} | {mse:.4g} |")
    return "\n".join(lines)


def _write(result: Any, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "fit.json", json.dumps(result.to_dict(), indent=2) + "\n")
    chosen_report = out / result.carrier / "report.md"
    body = chosen_report.read_text() if chosen_report.is_file() else ""
    write_text_atomic(
        out / "report.md",
        f"# Carriers (chosen: {result.carrier})\n\n"
        + render_carriers(result.carriers, result.carrier)
        + "\n\nEach carrier's fit is in its own folder; the chosen one's report "
        "follows.\n\n" + body,
    )
    result.save(out / "model.pt")
