"""The hook engine: name the sites of a model, read them, overwrite them.

Every intervention in circuitvae is a composition of two primitives:

* :func:`capture` -- record the outputs of some sites during a forward pass;
* :func:`patching` -- replace the outputs of some sites (whole, a unit subset, or through a
  function that sees the whole batch) during a forward pass.

Both are context managers. They put a stand-in in front of each hooked module's ``forward``
(cheaper than a torch forward hook: see :class:`_SiteForward`) and restore it on exit, even when
the body raises. :func:`run` is the functional form used by the metrics; it dispatches to a
backend (``"torch"``, the default, or ``"nnsight"``) so both can be checked against each other.

Patches are *batchable*: a patch value, and a unit mask, may carry one row per batch row, so many
different interventions run in one forward pass.

Example::

    import circuitvae as cv
    with cv.capture(model, ["decoder.0"]) as cache:
        cv.reconstruct(model, x_source)
    with cv.patching(model, {"decoder.0": cache["decoder.0"]}):
        out = cv.reconstruct(model, x_base)          # == reconstruction of x_source
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn

from .protocol import (
    CircuitVAEError,
    Posterior,
    Site,
    SiteError,
    as_tensor,
    check_input,
    check_vae,
    encode,
    optional_attr,
    root_module,
    to_model_placement,
)

Method = Literal["reconstruct", "encode", "decode"]
Units = Sequence[int] | Tensor | None
PatchFn = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class Patch:
    """A replacement for a site's output.

    ``value`` has the site's full output shape ``(B, *unit_shape)``, or ``unit_shape`` (the same
    value for every row). ``units`` chooses where it applies:

    * ``None``: the whole output;
    * a sequence (or 1-D integer tensor) of indices along dim 1 (features of a linear layer,
      channels of a convolution);
    * a boolean mask of shape ``(B, *unit_shape)`` or ``unit_shape`` (single units), or
      ``(B, C)`` or ``(C,)`` (whole channels), where a per-row mask lets each batch row carry its
      own intervention.
    """

    value: Tensor
    units: Units = None


PatchSpec = Tensor | Patch | PatchFn


# --------------------------------------------------------------------------- sites

_SITE_TABLES: weakref.WeakKeyDictionary[nn.Module, tuple[Site, ...]] = (
    weakref.WeakKeyDictionary()
)


def site_modules(model: Any) -> dict[str, nn.Module]:
    """Name -> module for everything the engine may hook (the root itself excluded)."""
    custom = getattr(model, "site_modules", None)
    if callable(custom):
        return dict(custom())
    return {name: m for name, m in root_module(model).named_modules() if name}


def site_table(model: Any, example: Tensor | None = None) -> tuple[Site, ...]:
    """The sites of ``model`` in forward order, each with its part and per-row output shape.

    Found once by a dry run (eval mode, no grad) of ``encode`` then ``decode`` on ``example`` or,
    when none is given, on zeros of ``model.input_shape``; cached per model afterwards. Only
    modules whose output is a tensor are sites. A module is in the latent part when the model
    lists it in ``latent_sites`` or its output is the posterior mean or log-variance itself.
    """
    check_vae(model)
    root = root_module(model)
    if root in _SITE_TABLES:
        return _SITE_TABLES[root]
    if example is None:
        shape = getattr(model, "input_shape", None)
        if shape is None:
            raise CircuitVAEError(
                f"cannot find the sites of {type(model).__name__}: it has no `input_shape`; pass "
                "an example input, e.g. cv.sites(model, example=x[:2])"
            )
        example = torch.zeros((2, *shape))
    x = check_input(model, example, name="example")
    modules = site_modules(model)
    records: list[tuple[str, str, Tensor]] = []
    phase = ["encode"]

    def recorder(name: str) -> Callable[..., None]:
        def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
            if isinstance(output, Tensor):
                records.append((name, phase[0], output))

        return hook

    handles = [m.register_forward_hook(recorder(n)) for n, m in modules.items()]
    was_training = root.training
    root.eval()
    try:
        with torch.no_grad():
            post = encode(model, x)
            phase[0] = "decode"
            model.decode(post.mean)
    finally:
        root.train(was_training)
        for h in handles:
            h.remove()
    declared = set(getattr(model, "latent_sites", ()) or ())
    latent_outputs = [t for t in (post.mean, post.logvar) if t is not None]
    table: list[Site] = []
    seen: set[str] = set()
    for name, ran_in, out in records:
        if name in seen:
            continue
        seen.add(name)
        latent = name in declared or any(out is t for t in latent_outputs)
        part = "latent" if latent else ("encoder" if ran_in == "encode" else "decoder")
        shape = tuple(out.shape[1:])
        table.append(Site(name, part, len(table), shape, ran_in))  # type: ignore[arg-type]
    result = tuple(table)
    _SITE_TABLES[root] = result
    return result


def sites(model: Any, example: Tensor | None = None, *, part: str | None = None) -> list[str]:
    """Hookable site names of ``model`` in forward order (optionally only one ``part``)."""
    return [s.name for s in site_table(model, example) if part is None or s.part == part]


def resolve_site(model: Any, name: str) -> nn.Module:
    """The module behind a site name; an unknown name lists the valid ones."""
    if not callable(optional_attr(model, "site_modules")) and name:
        module: nn.Module | None = root_module(model)
        for part in name.split("."):  # the common case, without walking the whole module tree
            module = module._modules.get(part) if module is not None else None
        if module is not None:
            return module
    modules = site_modules(model)
    if name not in modules:
        try:
            valid = sites(model)
        except CircuitVAEError:
            valid = list(modules)
        close = [v for v in valid if name.split(".")[-1] in v.split(".")][:5]
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise SiteError(
            f"unknown site {name!r} in {type(model).__name__}.{hint} Valid sites: "
            + ", ".join(valid)
        )
    return modules[name]


# --------------------------------------------------------------------------- patch arithmetic


def apply_patch(output: Tensor, spec: PatchSpec, site: str = "?") -> Tensor:
    """The new output of a site given its original ``output`` and a patch ``spec``."""
    if callable(spec) and not isinstance(spec, Tensor | Patch):
        new = spec(output)
        if not isinstance(new, Tensor) or new.shape != output.shape:
            got = tuple(new.shape) if isinstance(new, Tensor) else type(new).__name__
            raise CircuitVAEError(
                f"patch function for site {site!r} must return a tensor of shape "
                f"{tuple(output.shape)}, got {got}"
            )
        return new
    patch = spec if isinstance(spec, Patch) else Patch(spec)
    value = _broadcast_value(patch.value, output, site)
    if patch.units is None:
        return value.clone()  # copied: in-place ops downstream must not write into it
    if isinstance(patch.units, Tensor) and patch.units.dtype == torch.bool:
        mask = _broadcast_mask(patch.units.to(output.device), output, site)
        return torch.where(mask, value, output)
    index = torch.as_tensor(patch.units, dtype=torch.long, device=output.device).flatten()
    if output.ndim < 2:
        raise CircuitVAEError(f"site {site!r} has no unit dimension to index")
    if index.numel() and (index.min() < -output.shape[1] or index.max() >= output.shape[1]):
        raise CircuitVAEError(
            f"units {index.tolist()} out of range for site {site!r} with "
            f"{output.shape[1]} units along dim 1"
        )
    new = output.clone()
    new[:, index] = value[:, index]
    return new


def _broadcast_value(value: Tensor, output: Tensor, site: str) -> Tensor:
    if not (isinstance(value, Tensor) and value.dtype == output.dtype
            and value.device == output.device):  # a conversion costs a call per patched pass
        value = torch.as_tensor(value).to(device=output.device, dtype=output.dtype)
    if value.shape == output.shape:
        return value
    if value.shape == output.shape[1:] or (
        value.ndim == output.ndim and value.shape[0] == 1 and value.shape[1:] == output.shape[1:]
    ):
        return value.expand(output.shape)
    raise CircuitVAEError(
        f"patch value for site {site!r} has shape {tuple(value.shape)}; expected the site's "
        f"output shape {tuple(output.shape)} or one row {tuple(output.shape[1:])}"
    )


def _broadcast_mask(mask: Tensor, output: Tensor, site: str) -> Tensor:
    if mask.shape == output.shape or mask.shape == output.shape[1:]:
        return mask.expand(output.shape)
    trailing = (1,) * (output.ndim - 2)
    if output.ndim >= 2 and mask.shape == output.shape[:2]:
        return mask.reshape(*mask.shape, *trailing).expand(output.shape)
    if output.ndim >= 2 and mask.shape == output.shape[1:2]:
        return mask.reshape(1, -1, *trailing).expand(output.shape)
    raise CircuitVAEError(
        f"unit mask for site {site!r} has shape {tuple(mask.shape)}; expected one of "
        f"{tuple(output.shape)}, {tuple(output.shape[1:])}, {tuple(output.shape[:2])} or "
        f"{tuple(output.shape[1:2])}"
    )


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
    :func:`run` (:meth:`install` / :meth:`remove`). Patches go on first, so a site that is both
    patched and captured records the patched output. On a normal exit a site that never ran
    raises :class:`SiteError` (a capture that silently caught nothing, or a patch that had no
    effect, is a bug); on any exit every stand-in is removed.
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
        targets = [(n, resolve_site(self.model, n)) for n in self.patches]
        recorded = [(n, resolve_site(self.model, n)) for n in self.names]
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
    bug). Hooks are removed on exit, even on error.
    """
    names = [names] if isinstance(names, str) else list(names)
    return _Hooks(model, names, {}, detach=detach)


def patching(model: Any, patches: Mapping[str, PatchSpec]) -> AbstractContextManager[None]:
    """Replace site outputs while the body runs.

    ``patches`` maps a site name to a tensor (the new output), a :class:`Patch` (a value with a
    unit subset) or a function ``output -> new output`` that sees the whole batch. On a normal
    exit a patched site that never ran raises :class:`SiteError`: the patch had no effect.
    """
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


@dataclass(frozen=True)
class RunResult:
    """What :func:`run` returns: the method's output and the captured site outputs."""

    output: Any
    cache: dict[str, Tensor]


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
    """
    check_vae(model)
    backend = backend or optional_attr(model, "backend") or "torch"
    x = check_latent(model, x) if method == "decode" else check_input(model, x)
    if backend == "torch":
        with torch.inference_mode():
            if not capture and not patches:  # nothing to hook: a plain forward
                return RunResult(_call(model, x, method), {})
            hooks = _Hooks(model, capture, patches or {}).install()
            try:
                output = _call(model, x, method)
            finally:
                hooks.remove()
        hooks.check_ran()
        return RunResult(output, dict(hooks.cache))
    if backend == "nnsight":
        from .backends.nnsight import run_nnsight

        return run_nnsight(model, x, method=method, capture=tuple(capture),
                           patches=dict(patches or {}))
    raise CircuitVAEError(f"unknown backend {backend!r}; choose 'torch' or 'nnsight'")


def check_latent(model: Any, z: Any) -> Tensor:
    """Validate a latent batch ``(N, latent_dim)`` for ``decode``."""
    t = as_tensor(z, name="z")
    if t.ndim != 2 or t.shape[1] != model.latent_dim:
        raise CircuitVAEError(
            f"latent batch has shape {tuple(t.shape)}; {type(model).__name__} decodes "
            f"(N, {model.latent_dim})"
        )
    return to_model_placement(model, t)


def _call(model: Any, x: Tensor, method: Method) -> Any:
    if method == "reconstruct":
        return model.decode(encode(model, x).mean)
    if method == "encode":
        return encode(model, x)
    if method == "decode":
        return model.decode(x)
    raise CircuitVAEError(f"unknown method {method!r}; choose reconstruct, encode or decode")


__all__ = [
    "Cache",
    "Patch",
    "Posterior",
    "RunResult",
    "apply_patch",
    "capture",
    "patching",
    "resolve_site",
    "run",
    "site_modules",
    "site_table",
    "sites",
]
