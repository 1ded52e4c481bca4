"""Sites: the hookable module outputs of a model, found once, and the one site validator.

* :func:`site_table` / :func:`sites` -- the sites in forward order, with part, shape and phase;
* :func:`check_sites` -- the validator every public entry point calls on the site names it is
  given (one message format: the unknown names, close matches, the valid sites);
* :func:`site_info` -- validated names as :class:`~circuitvae.protocol.Site` records;
* :func:`module_of` -- the module behind a name, without validation (the engine's inner loop).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from .protocol import (
    CircuitVAEError,
    Site,
    SiteError,
    check_decoded_shape,
    check_input,
    check_posterior_shape,
    check_vae,
    encode,
    optional_attr,
    root_module,
)

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
                f"cannot find the sites of {type(model).__name__} yet: it has no `input_shape` "
                "and has seen no input; pass an example input, e.g. "
                "cv.sites(model, example=x[:2]), or call any function with your data first"
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
            check_posterior_shape(model, post, int(x.shape[0]), tuple(x.shape))
            phase[0] = "decode"
            check_decoded_shape(model, model.decode(post.mean), int(x.shape[0]),
                                tuple(post.mean.shape))
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


def valid_site_names(model: Any) -> list[str]:
    """The names a site argument may take, in forward order: the sites of :func:`site_table`
    when the table can be found (``input_shape``, or a table cached from an example), else every
    hookable module (:func:`site_modules`)."""
    try:
        return [s.name for s in site_table(model)]
    except CircuitVAEError:
        return list(site_modules(model))


def check_sites(model: Any, names: Iterable[str], valid: Collection[str] | None = None) -> None:
    """The site validator: raise :class:`~circuitvae.protocol.SiteError` unless every name in
    ``names`` is a site of ``model`` (one of ``valid``, by default :func:`valid_site_names`).

    The message names the unknown sites, suggests close matches (a name whose last component
    appears in a valid name) and lists the valid sites.
    """
    names = [names] if isinstance(names, str) else list(names)
    bad = [n for n in names if not isinstance(n, str)]
    if bad:
        raise SiteError(f"a site name must be a str, got {bad[0]!r} "
                        f"({type(bad[0]).__name__})")
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return
    known = valid_site_names(model) if valid is None else list(valid)
    known_set = set(known)
    unknown = [n for n in wanted if n not in known_set]
    if not unknown:
        return
    close = list(dict.fromkeys(
        v for n in unknown for v in known if n.split(".")[-1] in v.split(".")))[:5]
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    what = "site" if len(unknown) == 1 else "sites"
    raise SiteError(
        f"unknown {what} {', '.join(map(repr, unknown))} in {type(model).__name__}.{hint} "
        "Valid sites: " + ", ".join(known)
    )


def site_info(model: Any, names: Sequence[str]) -> list[Site]:
    """The :class:`~circuitvae.protocol.Site` records of ``names`` (validated by
    :func:`check_sites` against the site table), in the order given."""
    table = {s.name: s for s in site_table(model)}
    check_sites(model, names, table)
    return [table[n] for n in names]


def module_of(model: Any, name: str) -> nn.Module:
    """The module behind a site name, without validation: the names were checked at the door.

    A name that is no module still raises the validator's :class:`SiteError`.
    """
    if not callable(optional_attr(model, "site_modules")) and name:
        module: nn.Module | None = root_module(model)
        for part in name.split("."):  # the common case, without walking the whole module tree
            module = module._modules.get(part) if module is not None else None
        if module is not None:
            return module
    modules = site_modules(model)
    if name not in modules:
        check_sites(model, [name], [n for n in valid_site_names(model) if n != name])
    return modules[name]


def resolve_site(model: Any, name: str) -> nn.Module:
    """The module behind a site name, validated by :func:`check_sites`."""
    check_sites(model, [name])
    return module_of(model, name)


__all__ = [
    "check_sites",
    "module_of",
    "resolve_site",
    "site_info",
    "site_modules",
    "site_table",
    "sites",
    "valid_site_names",
]
