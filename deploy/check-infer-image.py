"""Build-time check of the inference image's virtualenv (run by Dockerfile.infer).

The build stage strips the shared libraries and removes packages that are never
used at run time; this proves that what is left still imports and works:

1. every module the commands use imports, and each native library does real
   work (BLAS, LAPACK, sparse, clustering, polars and its parquet I/O, an ONNX
   model through onnxruntime, pydantic-core, curl_cffi's libcurl);
2. cvxpy solves with CLARABEL, the only solver the package asks for, and
   ``allocate(..., "max_sharpe")`` is solved as max-Sharpe, not by a fallback;
3. every installed distribution's requirements are installed, except the ones
   removed on purpose (images.toml): a new dependency of a newer release that the
   build deletes by mistake fails here, not at 18:30 in production;
4. every module imported from the virtualenv has its byte-code file next to it
   and that file is up to date, so the read-only container never recompiles at
   start-up.

Usage: python check-infer-image.py  (inside the image, no network; images.toml
beside it).
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import importlib.util
import os
import struct
import sys
import tempfile
import time
import tomllib
from pathlib import Path

# The facts checked here (what must import, what must be absent, what the build
# removed on purpose and why) live in images.toml, which lies next to this file
# (deploy/images.toml; /tmp in the build stage, /opt/check in make docker-test).
FACTS = tomllib.loads(Path(__file__).with_name("images.toml").read_text())["infer"]
MODULES: list[str] = FACTS["modules"]
#: Never in the cron image: research code, the trainer, and what only they need.
ABSENT: list[str] = FACTS["absent"]
#: Removed in the build stage on purpose: {distribution: {"why": ..., "solver": ...}}.
REMOVED: dict[str, dict[str, str]] = {**FACTS["removed"], **FACTS["removed_last"]}
#: cvxpy's solvers that went with them.
REMOVED_SOLVERS = {r["solver"] for r in REMOVED.values() if "solver" in r}


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def check_imports() -> None:
    t0 = time.perf_counter()
    for name in MODULES:
        importlib.import_module(name)
    present = [name for name in ABSENT if importlib.util.find_spec(name) is not None]
    assert not present, f"the inference image holds {present}"
    took = time.perf_counter() - t0
    print(f"imports ok ({len(MODULES)} modules, {took:.1f} s; none of {', '.join(ABSENT)})")


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, value: bytes | int | str) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    data = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _onnx_matmul_model() -> bytes:
    """ModelProto bytes of Y = MatMul(A[2,3], B[3,2]), float32, opset 17."""

    def tensor(name: str, dims: tuple[int, ...]) -> bytes:
        shape = b"".join(_field(1, _field(1, d)) for d in dims)
        tensor_type = _field(1, 1) + _field(2, shape)  # elem_type FLOAT, shape
        return _field(1, name) + _field(2, _field(1, tensor_type))

    node = _field(1, "A") + _field(1, "B") + _field(2, "Y") + _field(4, "MatMul")
    graph = (
        _field(1, node)
        + _field(2, "g")
        + _field(11, tensor("A", (2, 3)))
        + _field(11, tensor("B", (3, 2)))
        + _field(12, tensor("Y", (2, 2)))
    )
    return _field(1, 8) + _field(7, graph) + _field(8, _field(1, "") + _field(2, 17))


def check_native() -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 200))
    spd = a @ a.T + 200 * np.eye(200)
    x = np.linalg.solve(spd, np.ones(200))
    assert np.allclose(spd @ x, 1), "numpy solve"
    assert np.all(np.linalg.eigvalsh(spd) > 0), "numpy eigvalsh"

    import scipy.sparse
    import scipy.sparse.linalg
    from scipy import stats
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.optimize import minimize
    from scipy.spatial.distance import pdist

    sparse = scipy.sparse.random(50, 50, density=0.2, random_state=0) + scipy.sparse.eye(50) * 10
    assert np.allclose(sparse @ scipy.sparse.linalg.spsolve(sparse.tocsc(), np.ones(50)), 1)
    z = linkage(pdist(rng.normal(size=(30, 4))), "ward")
    assert fcluster(z, 3, "maxclust").max() == 3, "scipy linkage"
    assert abs(stats.norm.ppf(0.975) - 1.959964) < 1e-5, "scipy.stats"
    assert minimize(lambda v: ((v - 2) ** 2).sum(), np.zeros(3)).success, "scipy.optimize"

    # PyPortfolioOpt's CovarianceShrinkage (max-Sharpe, min-vol) calls sklearn.covariance.
    from sklearn.cluster import KMeans
    from sklearn.covariance import ledoit_wolf
    from sklearn.metrics import silhouette_score

    pts = np.vstack([rng.normal(0, 0.1, (20, 2)), rng.normal(5, 0.1, (20, 2))])
    labels = KMeans(2, n_init=2, random_state=0).fit_predict(pts)
    assert silhouette_score(pts, labels) > 0.9, "sklearn"
    cov, shrink = ledoit_wolf(rng.normal(size=(100, 5)))
    assert cov.shape == (5, 5) and 0 <= shrink <= 1, "sklearn.covariance"

    import polars as pl

    df = pl.DataFrame({"d": list(range(1000)), "v": rng.normal(size=1000)})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.parquet"
        df.write_parquet(path)
        back = pl.read_parquet(path)
    assert back.equals(df), "polars parquet round trip"
    assert df.lazy().group_by(pl.col("d") % 7).agg(pl.col("v").sum()).collect().height == 7

    import pandas as pd

    assert pd.DataFrame({"a": [1.0, 2.0]}).rolling(2).mean().iloc[1, 0] == 1.5, "pandas"

    import onnxruntime as ort

    sess = ort.InferenceSession(_onnx_matmul_model(), providers=["CPUExecutionProvider"])
    a32, b32 = rng.normal(size=(2, 3)).astype("f4"), rng.normal(size=(3, 2)).astype("f4")
    (y,) = sess.run(None, {"A": a32, "B": b32})
    assert np.allclose(y, a32 @ b32, atol=1e-5), "onnxruntime MatMul"

    import pydantic

    class M(pydantic.BaseModel):
        n: int

    assert M.model_validate({"n": "3"}).n == 3, "pydantic-core"

    import curl_cffi

    curl_cffi.Curl().close()  # loads libcurl-impersonate
    print(f"native libraries ok (onnxruntime {ort.__version__}, polars {pl.__version__})")


def check_solver() -> None:
    import cvxpy as cp
    import numpy as np

    solvers = set(cp.installed_solvers())
    assert "CLARABEL" in solvers, f"CLARABEL missing from {solvers}"
    gone = solvers & REMOVED_SOLVERS
    assert not gone, f"removed solvers still installed: {gone}"
    w = cp.Variable(3)
    prob = cp.Problem(cp.Minimize(cp.sum_squares(w)), [cp.sum(w) == 1, w >= 0])
    prob.solve(solver="CLARABEL")
    assert prob.status == "optimal" and w.value is not None, prob.status
    assert np.allclose(w.value, 1 / 3, atol=1e-6), w.value

    from inferer.allocate import allocate

    r = np.random.default_rng(0).normal(0.001, 0.01, (300, 5))
    for method in ("max_sharpe", "min_vol"):
        res = allocate(r, method, fallback="equal", covariance="ledoit_wolf")
        assert res.method_used == method, f"{method}: fell back ({res.method_used}, {res})"
        print(f"allocate(..., {method!r}).method_used = {res.method_used}")
    print(f"cvxpy {cp.__version__} solvers: {sorted(solvers)}")


def check_requirements() -> None:
    from packaging.requirements import Requirement

    installed = {_norm(d.metadata["Name"]): d for d in md.distributions()}
    missing = []
    for name, dist in sorted(installed.items()):
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker and not req.marker.evaluate({"extra": ""}):
                continue
            dep = _norm(req.name)
            if dep not in installed and dep not in REMOVED:
                missing.append(f"{name} requires {spec}")
    assert not missing, "missing requirements:\n  " + "\n  ".join(missing)
    still = sorted(set(REMOVED) & set(installed))
    assert not still, f"meant to be removed but installed: {still}"
    gone = ", ".join(REMOVED)
    print(f"requirements ok ({len(installed)} distributions; removed on purpose: {gone})")


def check_bytecode() -> None:
    """Each imported .py under the virtualenv has an up-to-date .pyc next to it."""
    bad = []
    n = 0
    for mod in list(sys.modules.values()):
        src = getattr(mod, "__file__", None)
        if not src or not src.endswith(".py") or not src.startswith(sys.prefix):
            continue
        n += 1
        pyc = Path(importlib.util.cache_from_source(src))
        try:
            head = pyc.read_bytes()[:16]
        except OSError:
            bad.append(f"{src}: no {pyc.name}")
            continue
        flags, mtime, size = struct.unpack("<III", head[4:16])
        if flags & 1:  # hash-based .pyc (PEP 552): valid when the source hash matches
            ok = head[8:16] == importlib.util.source_hash(Path(src).read_bytes())
        else:
            st = os.stat(src)
            ok = (mtime, size) == (int(st.st_mtime) & 0xFFFFFFFF, st.st_size & 0xFFFFFFFF)
        if not ok:
            bad.append(f"{src}: stale {pyc.name}")
    assert not bad, f"{len(bad)} modules without valid byte code:\n  " + "\n  ".join(bad[:20])
    print(f"byte code ok ({n} imported modules from the virtualenv, each with its .pyc)")


def main() -> int:
    check_imports()
    check_native()
    check_solver()
    check_requirements()
    check_bytecode()
    return 0


if __name__ == "__main__":
    sys.exit(main())
