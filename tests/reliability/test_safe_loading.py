"""Loading never executes code from files: crafted pickles are refused by
`load_checkpoint`, `softeq train --resume`, `softeq eval`, `from_file` and the basis
cache, and no loader in the package can unpickle."""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

import softeq
from softeq.basis import cache_dir, clear_cache, invariant_basis
from softeq.cli import main
from softeq.data import from_file
from softeq.groups import get
from softeq.reps import TensorType
from softeq.train import TrainConfig, load_checkpoint, save_atomic
from tests.reliability._helpers import assert_one_line_error, count

SRC = Path(softeq.__file__).parent


class _Payload:
    """Unpickling this would create `marker` (a stand-in for any code)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _write_crafted(path: Path, how: str, marker: Path) -> None:
    state = {"epoch": 1, "model": {"w": torch.zeros(2)}, "config": _Payload(marker)}
    if how == "pickle":  # the legacy (non-zip) format
        path.write_bytes(pickle.dumps(state))
    elif how == "torch.save":
        torch.save(state, path)
    else:  # with a valid integrity trailer: the digest is no authentication
        save_atomic(state, path)


HOWS = ["pickle", "torch.save", "save_atomic"]


@pytest.mark.parametrize("how", HOWS)
def test_load_checkpoint_refuses_crafted_pickles(how, tmp_path):
    count("inputs")
    marker = tmp_path / "pwned"
    _write_crafted(tmp_path / "checkpoint.pt", how, marker)
    with pytest.raises(ValueError, match="refusing to load checkpoint"):
        load_checkpoint(tmp_path / "checkpoint.pt")
    assert not marker.exists()


@pytest.fixture
def run_folder(tmp_path):
    """A run folder whose config is fine and whose checkpoint is a crafted pickle."""
    run = tmp_path / "run"
    run.mkdir()
    cfg = TrainConfig(task="inertia:o2z", model="mlp", ch=8, num_layers=1, epochs=2,
                      eval_inputs=2, eval_transforms=2)  # fmt: skip
    (run / "config.toml").write_text(cfg.to_toml())
    return run


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("command", ["resume", "eval"])
def test_cli_refuses_crafted_checkpoints(how, command, run_folder, capsys):
    count("inputs")
    marker = run_folder.parent / "pwned"
    _write_crafted(run_folder / "checkpoint.pt", how, marker)
    if command == "eval":
        code = main(["eval", str(run_folder)])
    else:
        code = main(["train", "--config", str(run_folder / "config.toml"), "--out",
                     str(run_folder), "--resume"])  # fmt: skip
    assert_one_line_error(code, capsys.readouterr().err, "refusing to load checkpoint")
    assert not marker.exists()


def test_from_file_refuses_pickled_arrays(tmp_path):
    count("inputs")
    marker = tmp_path / "pwned"
    x = np.empty(1, dtype=object)
    x[0] = _Payload(marker)
    np.savez(tmp_path / "d.npz", x=x, y=np.zeros((1, 1)))
    with pytest.raises(ValueError, match="without pickles"):
        from_file(tmp_path / "d.npz", rep_in="V", rep_out="V0", groups=["O3"])
    assert not marker.exists()


def test_basis_cache_ignores_crafted_files(tmp_path, monkeypatch):
    count("inputs")
    monkeypatch.setenv("SOFTEQ_CACHE_DIR", str(tmp_path / "cache"))
    group, ttype = get("O3"), TensorType.of(2)
    clear_cache(disk=False)
    Q = invariant_basis(group, ttype)
    files = list(cache_dir().iterdir())
    assert files, "the basis was not cached on disk"
    marker = tmp_path / "pwned"
    for path in files:
        torch.save(_Payload(marker), path)
    clear_cache(disk=False)
    assert torch.equal(invariant_basis(group, ttype), Q)  # re-solved, not loaded
    assert not marker.exists()
    clear_cache(disk=False)


# -- static audit: no loader in the package can run code from a file ---------------

_UNSAFE_MODULES = {"pickle", "marshal", "shelve", "dill", "cloudpickle", "joblib"}


def _keyword(call: ast.Call, name: str):
    for kw in call.keywords:
        if kw.arg == name and isinstance(kw.value, ast.Constant):
            return kw.value.value
    return None


def _problems(path: Path, root: Path = SRC) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        where = f"{path.relative_to(root)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] + [getattr(node, "module", "") or ""]
            if {n.split(".")[0] for n in names} & _UNSAFE_MODULES:
                found.append(f"{where}: imports {names}")
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in ("eval", "exec"):
            found.append(f"{where}: calls {func.id}()")
        if isinstance(func, ast.Attribute) and func.attr == "load":
            owner = getattr(func.value, "id", "")
            if owner == "torch" and _keyword(node, "weights_only") is not True:
                found.append(f"{where}: torch.load without weights_only=True")
            if owner in ("np", "numpy") and _keyword(node, "allow_pickle") is not False:
                found.append(f"{where}: np.load without allow_pickle=False")
            if owner in ("yaml", "pickle"):
                found.append(f"{where}: {owner}.load")
    return found


def test_no_loader_in_the_package_can_unpickle():
    """Summaries, metrics, results and reports are JSON; checkpoints and caches are
    read with `weights_only=True`, arrays with `allow_pickle=False`."""
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 30
    problems = [p for path in files for p in _problems(path)]
    assert problems == []


@pytest.mark.parametrize(
    "source",
    [
        "import pickle",
        "from joblib import load",
        "import torch\ntorch.load(path)",
        "import torch\ntorch.load(path, weights_only=False)",
        "import numpy as np\nnp.load(path)",
        "exec(text)",
    ],
)
def test_audit_catches_unsafe_loaders(source, tmp_path):
    """Negative control: the audit above would notice each of these."""
    path = tmp_path / "module.py"
    path.write_text(source + "\n")
    assert len(_problems(path, tmp_path)) == 1
