"""The hook engine: name the sites of a model, read them, overwrite them.

Every intervention in circuitvae is a composition of two primitives:

* :func:`capture` -- record the outputs of some sites during a forward pass;
* :func:`patching` -- replace the outputs of some sites (whole, a unit subset, or through a
  function that sees the whole batch) during a forward pass.

Both are context managers. They put a stand-in in front of each hooked module's ``forward``
(cheaper than a torch forward hook: see :class:`_SiteForward`) and restore it on exit, even when
the body raises. :func:`run` is the functional form; it checks its inputs once, then
:func:`run_unchecked` makes the pass on a backend (``"torch"``, the default, or ``"nnsight"``) so
both can be checked against each other. The metrics' chunked passes call :func:`run_unchecked`
directly: their inputs were checked at their own door.

Patches are *batchable*: a patch value, and a unit mask, may carry one row per batch row, so many
different interventions run in one forward pass. Site discovery and the site validator live in
:mod:`circuitvae.sitemap`, the patch arithmetic in :mod:`circuitvae.patches`; both are re-exported
here.

Example::

    import circuitvae as cv
    with cv.capture(model, ["decoder.0"]) as cache:
        cv.reconstruct(model, x_source)
    with cv.patching(model, {"decoder.0": cache["decoder.0"]}):
        out = cv.reconstruct(model, x_base)          # == reconstruction of x_source
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

import torch
from torch import Tensor, nn

from .passes import Method, RunResult, call, check_method
from .patches import Patch, PatchFn, PatchSpec, Units, apply_patch, check_patch_values
from .protocol import (
    CircuitVAEError,
    Posterior,
    SiteError,
    check_input,
    check_latent,
    check_vae,
    optional_attr,
)
from .sitemap import check_sites, module_of, resolve_site, site_modules, site_table, sites

BACKENDS: tuple[str, ...] = ("torch", "nnsight")


# --------------------------------------------------------------------------- context managers


class Cache(dict):
    """Site name -> captured output. A site that never ran gives a clear error."""

    def __missing__(self, key: str) -> Tensor:
        raise SiteError(
            f"site {key!r} has not run in this forward pass; captured so far: "
            + (", ".join(self) or "nothing")
        )


_NO_OWN_FORWARD = object()


class _SiteForward:
    """Stands in for a module's ``forward`` while a capture or patch is active.

    ``module(x)`` calls ``self.forward``, which the instance attribute shadows; the stand-in calls
    the forward it replaced and hands the output to ``on_output`` (record it, or replace it).
    This costs one Python call per hooked site, about half of a torch forward hook, whose
    registration also sends every call of the module down torch's slow path. Stand-ins stack
    (capture and patch on one site) and can be removed in any order.
    """

    __slots__ = ("inner", "on_output", "replaced")

    def __init__(self, inner: Callable[..., Any], on_output: Callable[[Any], Any],
                 replaced: Any) -> None:
        self.inner, self.on_output, self.replaced = inner, on_output, replaced

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.on_output(self.inner(*args, **kwargs))


def _install(module: nn.Module, on_output: Callable[[Any], Any]) -> _SiteForward:
    own = module.__dict__.get("forward", _NO_OWN_FORWARD)
    stand_in = _SiteForward(module.forward, on_output, own)
    module.__dict__["forward"] = stand_in
    return stand_in


def _uninstall(module: nn.Module, stand_in: _SiteForward) -> None:
    own = module.__dict__
    current = own.get("forward")
    if current is stand_in:
        if stand_in.replaced is _NO_OWN_FORWARD:
            del own["forward"]
        else:
            own["forward"] = stand_in.replaced
        return
    while isinstance(current, _SiteForward):  # a later stand-in is still active: unlink
        if current.inner is stand_in:
            current.inner, current.replaced = stand_in.inner, stand_in.replaced
            return
        current = current.inner


class _Hooks:
    """Stand-in forwards that record and/or replace site outputs.

    One object serves :func:`capture` and :func:`patching` (as a context manager) and
    :func:`run_unchecked` (:meth:`install` / :meth:`remove`). The site names were validated at
    the door, so :meth:`install` only looks the modules up. Patches go on first, so a site that
    is both patched and captured records the patched output. On a normal exit a site that never
    ran raises :class:`SiteError` (a capture that silently caught nothing, or a patch that had
    no effect, is a bug); on any exit every stand-in is removed.
    """

    __slots__ = ("cache", "detach", "fired", "installed", "model", "names", "patches",
                 "yields_cache")

    def __init__(self, model: Any, names: Sequence[str], patches: Mapping[str, PatchSpec],
                 *, detach: bool = True, yields_cache: bool = True) -> None:
        self.model, self.names, self.patches = model, names, patches
        self.detach, self.yields_cache = detach, yields_cache
        self.cache: Cache = Cache()
        self.fired: dict[str, bool] = {}
        self.installed: list[tuple[nn.Module, _SiteForward]] = []

    def install(self) -> _Hooks:
        targets = [(n, module_of(self.model, n)) for n in self.patches]
        recorded = [(n, module_of(self.model, n)) for n in self.names]
        for name, module in targets:
            on_output = _patcher(name, self.patches[name], self.fired)
            self.installed.append((module, _install(module, on_output)))
        for name, module in recorded:
            on_output = _recorder(name, self.cache, self.detach)
            self.installed.append((module, _install(module, on_output)))
        return self

    def remove(self) -> None:
        for module, stand_in in reversed(self.installed):
            _uninstall(module, stand_in)
        self.installed = []

    def check_ran(self) -> None:
        if len(self.cache) == len(self.names) and len(self.fired) == len(self.patches):
            return  # every site ran (names are distinct sites)
        _check_all_ran(self.names, self.cache, "captured")
        _check_all_ran(list(self.patches), self.fired, "patched")

    def __enter__(self) -> Cache | None:
        self.install()
        return self.cache if self.yields_cache else None

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        self.remove()
        if exc_type is None:
            self.check_ran()


def _not_a_tensor(name: str, output: Any, verb: str) -> CircuitVAEError:
    return CircuitVAEError(
        f"site {name!r} outputs {type(output).__name__}, not a tensor; {verb} one of its "
        "submodules instead"
    )


def _recorder(name: str, cache: Cache, detach: bool) -> Callable[[Any], Any]:
    def record(output: Any) -> Any:
        if not isinstance(output, Tensor):
            raise _not_a_tensor(name, output, "capture")
        cache[name] = output.detach() if detach and output.requires_grad else output
        return output

    return record


def _patcher(name: str, spec: PatchSpec, fired: dict[str, bool]) -> Callable[[Any], Tensor]:
    def patch(output: Any) -> Tensor:
        if not isinstance(output, Tensor):
            raise _not_a_tensor(name, output, "patch")
        fired[name] = True
        return apply_patch(output, spec, name)

    return patch


def capture(
    model: Any, names: str | Sequence[str], *, detach: bool = True
) -> AbstractContextManager[Cache]:
    """Record the outputs of ``names`` while the body runs; yields a :class:`Cache`.

    If a site runs more than once inside the block the last output is kept. On a normal exit a
    site that never ran raises :class:`SiteError` (a capture that silently caught nothing is a
    bug). Hooks are removed on exit, even on error. An unknown name raises :class:`SiteError`
    (:func:`circuitvae.sitemap.check_sites`) before anything is hooked.
    """
    names = [names] if isinstance(names, str) else list(names)
    check_sites(model, names)
    return _Hooks(model, names, {}, detach=detach)


def patching(model: Any, patches: Mapping[str, PatchSpec]) -> AbstractContextManager[None]:
    """Replace site outputs while the body runs.

    ``patches`` maps a site name to a tensor (the new output), a :class:`Patch` (a value with a
    unit subset) or a function ``output -> new output`` that sees the whole batch. On a normal
    exit a patched site that never ran raises :class:`SiteError`: the patch had no effect. An
    unknown name raises :class:`SiteError` before anything is hooked.
    """
    check_sites(model, patches)
    check_patch_values(patches)
    return _Hooks(model, (), patches, yields_cache=False)  # type: ignore[return-value]


def _check_all_ran(names: Sequence[str], ran: Mapping[str, Any], verb: str) -> None:
    missing = [n for n in names if n not in ran]
    if missing:
        raise SiteError(
            f"site(s) {', '.join(map(repr, missing))} were {verb} but did not run in the forward "
            "pass (e.g. an encoder site around a decode-only call); nothing was "
            f"{verb} there"
        )


# --------------------------------------------------------------------------- functional form


def run(
    model: Any,
    x: Tensor,
    *,
    method: Method = "reconstruct",
    capture: Sequence[str] = (),
    patches: Mapping[str, PatchSpec] | None = None,
    backend: str | None = None,
) -> RunResult:
    """One forward pass with captures and patches, on the chosen backend.

    ``method`` is ``"reconstruct"`` (``decode(encode(x).mean)``), ``"encode"`` (returns the
    :class:`Posterior`) or ``"decode"`` (``x`` is a latent batch). Runs under
    ``torch.inference_mode``. Both backends give identical numbers. ``backend=None`` uses the
    model's ``backend`` attribute (set by ``circuitvae.wrap``), else ``"torch"``.

    Everything is checked first: the model, the method and backend names, the input (shape,
    dtype, NaN/Inf; moved to the model's device and dtype) and the site names. The pass itself
    is :func:`run_unchecked`, which the engine's own chunked passes call directly.
    """
    check_vae(model)
    check_method(method)
    backend = _backend(model, backend)
    x = check_latent(model, x) if method == "decode" else check_input(model, x)
    check_sites(model, [*capture, *(patches or {})])
    check_patch_values(patches or {})
    return run_unchecked(model, x, method=method, capture=capture, patches=patches,
                         backend=backend)


def _backend(model: Any, backend: str | None) -> str:
    chosen = backend or optional_attr(model, "backend") or "torch"
    if chosen not in BACKENDS:
        raise CircuitVAEError(f"unknown backend {chosen!r}; choose 'torch' or 'nnsight'")
    return chosen


def run_unchecked(
    model: Any,
    x: Tensor,
    *,
    method: Method = "reconstruct",
    capture: Sequence[str] = (),
    patches: Mapping[str, PatchSpec] | None = None,
    backend: str | None = None,
) -> RunResult:
    """:func:`run` without its checks: the pass the engine's chunked loops make.

    The caller guarantees what :func:`run` checks: ``model`` speaks the protocol, ``x`` is a
    tensor on the model's device in its dtype (inputs of the right row shape, or latents for
    ``method="decode"``), and every site name is valid. Nothing here reads a value back from
    the device. Patch values are still checked against the site's output as they are applied,
    and a site that did not run still raises :class:`SiteError`.
    """
    backend = backend or optional_attr(model, "backend") or "torch"
    if backend == "nnsight":
        from .backends.nnsight import run_nnsight

        return run_nnsight(model, x, method=method, capture=tuple(capture),
                           patches=dict(patches or {}))
    with torch.inference_mode():
        if not capture and not patches:  # nothing to hook: a plain forward
            return RunResult(call(model, x, method), {})
        hooks = _Hooks(model, capture, patches or {}).install()
        try:
            output = call(model, x, method)
        finally:
            hooks.remove()
    hooks.check_ran()
    return RunResult(output, dict(hooks.cache))


__all__ = [
    "BACKENDS",
    "Cache",
    "Method",
    "Patch",
    "PatchFn",
    "PatchSpec",
    "Posterior",
    "RunResult",
    "SiteError",
    "Units",
    "apply_patch",
    "capture",
    "check_latent",
    "check_sites",
    "patching",
    "resolve_site",
    "run",
    "run_unchecked",
    "site_modules",
    "site_table",
    "sites",
]
