"""The nnsight backend: the same captures and patches as the torch backend, through nnsight.

nnsight is an optional extra (``pip install circuitvae[nnsight]``), imported only when this
backend is used. Two nnsight rules shape this module (see docs/architecture.md):

* inside one trace, module outputs must be accessed in forward order, so sites are visited in
  the order of :func:`circuitvae.sitemap.site_table`;
* plain ``NNsight`` refuses several ``tracer.invoke`` calls on a custom module, so
  :class:`VAENNsight` defines how inputs are batched.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from ..passes import PHASES, Method, RunResult, call
from ..patches import PatchSpec, apply_patch
from ..protocol import CircuitVAEError, SiteError, root_module
from ..sitemap import site_modules, site_table


def _import_nnsight() -> Any:
    try:
        import nnsight
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise CircuitVAEError(
            "the nnsight backend needs the nnsight package: pip install 'circuitvae[nnsight]'"
        ) from err
    return nnsight


class _Shim(nn.Module):
    """Gives nnsight one ``forward`` for the three methods the engine calls."""

    def __init__(self, vae: Any) -> None:
        super().__init__()
        self.vae_module = root_module(vae)
        self._vae = vae

    def forward(self, x: Tensor, method: Method = "reconstruct") -> Any:
        return call(self._vae, x, method)


def _nnsight_class() -> type:
    nnsight = _import_nnsight()

    class VAENNsight(nnsight.NNsight):
        """NNsight with batching defined, so a trace may hold several ``tracer.invoke`` inputs."""

        def _batch_size(self, *inputs: Any, **kwargs: Any) -> int:
            return int(inputs[0].shape[0]) if inputs else 0

        def _batch(self, invokes: Any, fn: Any = None) -> Any:
            if len(invokes) == 1:
                return invokes[0]
            args = torch.cat([a[0] for a, _ in invokes], 0)
            return (args,), dict(invokes[0][1])

    return VAENNsight


def VAENNsight(module: nn.Module) -> Any:  # noqa: N802 - reads as the class it builds
    """Wrap ``module`` in nnsight's ``NNsight`` with batching for multi-invoke traces."""
    return _nnsight_class()(module)


_TRACED: weakref.WeakKeyDictionary[nn.Module, tuple[Any, dict[str, str]]] = (
    weakref.WeakKeyDictionary()
)


def _traced(model: Any) -> tuple[Any, dict[str, str]]:
    """The nnsight-wrapped shim of ``model`` and site name -> envoy path, built once per model."""
    root = root_module(model)
    if root not in _TRACED:
        shim = _Shim(model)
        paths = {id(m): p for p, m in shim.named_modules() if p}
        names = {n: paths[id(m)] for n, m in site_modules(model).items() if id(m) in paths}
        _TRACED[root] = (VAENNsight(shim), names)
    return _TRACED[root]


def _envoy(traced: Any, path: str) -> Any:
    envoy = traced
    for part in path.split("."):
        envoy = getattr(envoy, part)
    return envoy


def run_nnsight(
    model: Any,
    x: Tensor,
    *,
    method: Method,
    capture: tuple[str, ...],
    patches: Mapping[str, PatchSpec],
) -> RunResult:
    """:func:`circuitvae.hooks.run_unchecked` through one nnsight trace.

    As there, the inputs and site names were checked at the door (:func:`circuitvae.run`).
    """
    traced, paths = _traced(model)
    table = {s.name: s for s in site_table(model)}
    wanted = set(capture) | set(patches)
    # nnsight would wait for a module that never runs; say so before tracing, as the torch
    # backend does after its pass.
    idle = sorted(n for n in wanted if table[n].phase not in PHASES[method])
    if idle:
        raise SiteError(
            f"site(s) {', '.join(map(repr, idle))} did not run in the forward pass of "
            f"{method!r}; nothing was captured or patched there"
        )
    visit = sorted(wanted, key=lambda n: table[n].index)
    saved: dict[str, Any] = {}
    with torch.inference_mode(), traced.trace(x, method=method):
        for name in visit:
            envoy = _envoy(traced, paths[name])
            if name in patches:
                envoy.output = apply_patch(envoy.output, patches[name], name)
            if name in capture:
                saved[name] = envoy.output.save()
        output = traced.output.save()
    return RunResult(output, {n: saved[n] for n in capture})
