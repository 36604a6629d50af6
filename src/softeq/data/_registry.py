"""Look tasks up by spec: ``get_task("inertia:o2z")``, ``get_task("o5-synthetic")``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from . import _cossim, _inertia
from ._cossim import cossim
from ._emlp_suite import TRAIN_SIZES, emlp_inertia, o5_synthetic, particle_interaction
from ._inertia import inertia
from ._mocap import mocap
from ._motion import motion_task
from ._planet_orbits import orbits
from ._task import Task, check_seed

_SETTING_TASKS: dict[str, tuple[Callable[..., Task], list[str]]] = {
    "inertia": (inertia, list(_inertia.SETTINGS)),
    "cossim": (cossim, list(_cossim.SETTINGS)),
}
_SUITE_TASKS: dict[str, Callable[..., Task]] = {
    "emlp-inertia": emlp_inertia,
    "o5-synthetic": o5_synthetic,
    "particle-interaction": particle_interaction,
}
# Real trajectories (motion protocol): variant suffix -> loader keywords.
# ``residual``: targets are the residual to constant velocity (`motion_task`).
_SCALE_AWARE = {"normalisation": "scale-aware"}
_RESIDUAL = {"target": "residual"}
_MOTION_TASKS: dict[str, tuple[Callable[..., Task], dict[str, dict[str, object]]]] = {
    "mocap": (mocap, {"": {}, "scale-aware": _SCALE_AWARE, "residual": _RESIDUAL}),
    "orbits": (orbits, {"": {}, "scale-aware": _SCALE_AWARE,
                        "rotated": {"rotate_test": True}, "residual": _RESIDUAL}),
}  # fmt: skip


def task_names() -> list[str]:
    """Every spec `get_task` accepts, e.g. ``inertia:o2z``, ``o5-synthetic:3000``,
    ``mocap``, ``orbits:rotated``, ``mocap:residual``."""
    names = [f"{kind}:{s}" for kind, (_, settings) in _SETTING_TASKS.items()
             for s in settings]  # fmt: skip
    for kind in _SUITE_TASKS:
        names += [kind] + [f"{kind}:{n}" for n in TRAIN_SIZES]
    for kind, (_, variants) in _MOTION_TASKS.items():
        names += [f"{kind}:{v}" if v else kind for v in variants]
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
            ``scale``, ``none``), one of ``emlp-inertia``, ``o5-synthetic``,
            ``particle-interaction`` with an optional ``:1000`` / ``:3000``
            training-set size, or a real trajectory task (motion protocol):
            ``mocap`` / ``mocap:scale-aware`` / ``mocap:residual`` (human
            motion capture) and ``orbits`` / ``orbits:scale-aware`` /
            ``orbits:rotated`` / ``orbits:residual`` (planets; ``rotated``:
            every test window randomly rotated by an O(3) element;
            ``residual``: the targets are the residual to the constant-velocity
            forecast, same ADE/FDE). See `task_names`. ``motion:PATH.npz``
            (optionally ``:scale-aware``, ``:residual``) trains on a motion
            ``.npz`` of your own, e.g. Waymo data converted by
            ``python -m softeq.data.waymo``.
        seed: Split seed (inertia, cossim), data seed (EMLP suite), seed of the
            test rotations (``orbits:rotated``); the other motion tasks have
            fixed time splits and ignore it.
        n_train: Training size for the EMLP suite (default 1000); the inertia
            and cossim tasks have a fixed 1000/1000/1000 split, the motion
            tasks a fixed split in time.

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
        >>> get_task("orbits:rotated").truth["O3"]
        'exact'
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
    if kind in _MOTION_TASKS:
        return _motion_task(spec, kind, suffix, seed=seed, n_train=n_train)
    if kind == "motion":
        return _motion_file_task(spec, suffix, seed=seed, n_train=n_train)
    raise _unknown(spec)


#: Options of ``motion:PATH[:OPTION...]`` (your own motion ``.npz``).
_FILE_OPTIONS = {"scale-aware": _SCALE_AWARE, "residual": _RESIDUAL}


def _motion_file_task(spec: str, rest: str, *, seed: int, n_train: int | None) -> Task:
    """``motion:PATH.npz[:scale-aware][:residual]``: a motion ``.npz`` of your own
    (e.g. Waymo Open Motion converted by ``python -m softeq.data.waymo``) under
    the motion protocol; the groups are O3, O2x, O2y, O2z with unknown truth."""
    end = rest.rfind(".npz")
    if end < 0:
        raise ValueError(
            f"task {spec!r}: expected motion:PATH.npz[:scale-aware][:residual], "
            "PATH a motion .npz (softeq.data.MotionData.save, or "
            "python -m softeq.data.waymo)"
        )
    path, options = rest[: end + 4], rest[end + 4 :]
    chosen = [o for o in options.split(":") if o]
    unknown = [o for o in chosen if o not in _FILE_OPTIONS]
    if unknown or (options and not options.startswith(":")):
        raise ValueError(
            f"task {spec!r}: unknown option(s) {unknown or [options]}; choose from "
            f"{sorted(_FILE_OPTIONS)}"
        )
    if n_train is not None:
        raise ValueError(f"task {spec!r} has the file's split; got n_train={n_train}")
    check_seed(seed, f"task {spec!r}")
    if not Path(path).is_file():
        raise ValueError(f"task {spec!r}: no such motion file {path!r}")
    kwargs: dict[str, object] = {}
    for option in chosen:
        kwargs.update(_FILE_OPTIONS[option])
    return motion_task(path, name=spec, **kwargs)


def _motion_task(
    spec: str, kind: str, variant: str, *, seed: int, n_train: int | None
) -> Task:
    build, variants = _MOTION_TASKS[kind]
    if variant not in variants or spec.strip() == f"{kind}:":
        raise _unknown(spec)
    if n_train is not None:
        raise ValueError(
            f"task {spec!r} has a fixed split in time; got n_train={n_train!r}"
        )
    check_seed(seed, f"task {spec!r}")
    options = dict(variants[variant])
    if options.get("rotate_test"):
        options["seed"] = seed
    return build(**options)
