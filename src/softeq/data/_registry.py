"""Look tasks up by spec: ``get_task("inertia:o2z")``, ``get_task("o5-synthetic")``."""

from __future__ import annotations

from collections.abc import Callable

from . import _cossim, _inertia
from ._cossim import cossim
from ._emlp_suite import TRAIN_SIZES, emlp_inertia, o5_synthetic, particle_interaction
from ._inertia import inertia
from ._task import Task

_SETTING_TASKS: dict[str, tuple[Callable[..., Task], list[str]]] = {
    "inertia": (inertia, list(_inertia.SETTINGS)),
    "cossim": (cossim, list(_cossim.SETTINGS)),
}
_SUITE_TASKS: dict[str, Callable[..., Task]] = {
    "emlp-inertia": emlp_inertia,
    "o5-synthetic": o5_synthetic,
    "particle-interaction": particle_interaction,
}


def task_names() -> list[str]:
    """Every spec `get_task` accepts, e.g. ``inertia:o2z``, ``o5-synthetic:3000``."""
    names = [f"{kind}:{s}" for kind, (_, settings) in _SETTING_TASKS.items()
             for s in settings]  # fmt: skip
    for kind in _SUITE_TASKS:
        names += [kind] + [f"{kind}:{n}" for n in TRAIN_SIZES]
    return names


def _unknown(spec: object) -> ValueError:
    return ValueError(
        f"unknown task {spec!r}; expected one of: {', '.join(task_names())}"
    )


def _suite_n_train(spec: str, suffix: str | None, n_train: int | None) -> int:
    from_spec = None
    if suffix is not None:
        if not suffix.isdigit() or int(suffix) not in TRAIN_SIZES:
            raise _unknown(spec)
        from_spec = int(suffix)
    if from_spec is not None and n_train is not None and n_train != from_spec:
        raise ValueError(
            f"task {spec!r} asks for n_train={from_spec} but n_train={n_train} was "
            "passed; give it once"
        )
    if from_spec is not None:
        return from_spec
    return TRAIN_SIZES[0] if n_train is None else n_train


def get_task(spec: str, *, seed: int = 0, n_train: int | None = None) -> Task:
    """Build the task named by `spec`.

    Args:
        spec: ``inertia:<setting>`` (``o3``, ``o2x``, ``o2y``, ``o2z``, ``mixed``,
            ``broken``, ``rpp``), ``cossim:<setting>`` (``so3-scale``, ``so3``,
            ``scale``, ``none``), or one of ``emlp-inertia``, ``o5-synthetic``,
            ``particle-interaction`` with an optional ``:1000`` / ``:3000``
            training-set size. See `task_names`.
        seed: Split seed (inertia, cossim) or data seed (EMLP suite).
        n_train: Training size for the EMLP suite (default 1000); the inertia
            and cossim tasks have a fixed 1000/1000/1000 split.

    Returns:
        The `Task`.

    Raises:
        ValueError: For an unknown spec (listing `task_names()`), a bad seed, or
            an `n_train` the task does not offer.

    Example:
        >>> get_task("inertia:o2z").truth["O2z"]
        'exact'
        >>> get_task("o5-synthetic:3000").x_train.shape
        torch.Size([3000, 10])
    """
    if not isinstance(spec, str):
        raise _unknown(spec)
    kind, _, suffix = spec.strip().partition(":")
    if kind in _SETTING_TASKS:
        build, settings = _SETTING_TASKS[kind]
        if suffix not in settings:
            raise _unknown(spec)
        if n_train not in (None, _inertia.SIZES[0]):
            raise ValueError(
                f"task {spec!r} has a fixed 1000/1000/1000 split; got "
                f"n_train={n_train!r}"
            )
        return build(suffix, seed=seed)
    if kind in _SUITE_TASKS:
        n = _suite_n_train(spec, suffix if ":" in spec else None, n_train)
        return _SUITE_TASKS[kind](n, seed=seed)
    raise _unknown(spec)
