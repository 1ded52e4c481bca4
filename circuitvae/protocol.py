"""What the engine needs from a model and from a dataset.

A model speaks the protocol when it offers

* ``encode(x) -> Posterior``: the posterior ``q(z|x)`` as its mean and log-variance (shape
  ``(B, d)`` each), or a :class:`DiscretePosterior` for a vector-quantized model;
* ``decode(z) -> Tensor``: the reconstruction in the model's output space;
* ``latent_dim``: ``d``;
* optionally ``input_shape`` (the shape of one input row, used to check inputs and to find the
  sites without an example), ``latent_sites`` (names of modules that belong to the latent part),
  and ``site_modules()`` (the mapping name -> module the engine hooks; by default
  ``named_modules()`` of the model itself).

The engine never calls ``forward``: the deterministic pass it analyses is
``decode(encode(x).mean)`` (see :func:`reconstruct`). Zoo models speak the protocol natively;
anything else is brought to it by ``circuitvae.wrap``.

A dataset (see :class:`DatasetLike`) is anything with a ``test`` split of inputs. What else a
dataset may offer is declared here as protocols, and metrics use it when present: input features
(:class:`HasFeatures`), named feature groups (:class:`HasFeatureGroups`), groupings by kind
(:class:`GroupsColumns`, :class:`GroupsFeatures`), a ground-truth factor sampler
(:class:`FactorSampler`, :class:`HasFactorSizes`, :class:`HasFactorNames`), and splits with
labels or factors (:class:`HasLabels`, :class:`HasFactors`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor, nn

Part = Literal["encoder", "latent", "decoder"]


class CircuitVAEError(ValueError):
    """Base class of the errors circuitvae raises for bad input."""


class NotAVAEError(CircuitVAEError, TypeError):
    """The object cannot be used as a VAE (a method is missing or returns the wrong thing)."""


class SiteError(CircuitVAEError, KeyError):
    """An unknown site, or a site that did not run in the forward pass."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Posterior:
    """A diagonal Gaussian posterior ``q(z|x) = N(mean, diag(exp(logvar)))``.

    ``mean`` and ``logvar`` have shape ``(B, d)``. ``logvar`` may be ``None`` for a deterministic
    encoder (an autoencoder), in which case ``std`` is zero.
    """

    mean: Tensor
    logvar: Tensor | None = None

    @property
    def std(self) -> Tensor:
        if self.logvar is None:
            return torch.zeros_like(self.mean)
        return torch.exp(0.5 * self.logvar)


@dataclass(frozen=True)
class DiscretePosterior(Posterior):
    """The encoding of a vector-quantized model.

    ``mean`` is the continuous encoder output ``z_e`` flattened to ``(B, P * e)``; ``codes``
    ``(B, P)`` are the selected codebook indices at the ``P`` latent positions and ``codebook``
    ``(K, e)`` the embedding table. ``decode`` of such a model quantizes its input, so
    ``decode(mean)`` and ``decode(quantized)`` agree. A code swap replaces ``codes[:, p]`` and
    decodes ``codebook[codes].flatten(1)``.
    """

    codes: Tensor | None = None
    codebook: Tensor | None = None

    @property
    def quantized(self) -> Tensor:
        """``z_q = codebook[codes]`` flattened to ``(B, P * e)``."""
        assert self.codes is not None and self.codebook is not None
        return self.codebook[self.codes].flatten(1)


@dataclass(frozen=True)
class Site:
    """A hookable module output.

    ``name`` is the dotted module name, ``part`` the part of the model it belongs to, ``index``
    its position in forward order, ``shape`` the shape of one row of its output and ``phase``
    the call it runs in (``"encode"`` or ``"decode"``; a latent site such as ``hook_z`` runs in
    ``decode``).
    """

    name: str
    part: Part
    index: int
    shape: tuple[int, ...]
    phase: Literal["encode", "decode"]

    @property
    def n_units(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1


# --------------------------------------------------------------------------- datasets


@dataclass(frozen=True)
class Feature:
    """One input feature of a tabular dataset and the model-space columns it occupies.

    A numeric feature owns one column; a categorical feature owns its one-hot block.
    """

    name: str
    kind: Literal["numeric", "categorical"]
    columns: tuple[int, ...]


@dataclass
class Split:
    """One split of a dataset: model inputs and what metrics need beside them.

    ``x``: inputs ready for the model, ``(N, *input_shape)`` float32. ``y``: the downstream label
    ``(N,)`` or ``None``. ``factors``: ground-truth factor classes ``(N, K)`` (images, synthetic
    tabular) or ``None``.
    """

    x: Tensor
    y: np.ndarray | None = None
    factors: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.x.shape[0])


@runtime_checkable
class DatasetLike(Protocol):
    """What metrics read from a dataset: a ``test`` split, and optionally more.

    Tabular datasets add ``features`` (a list of :class:`Feature`) and ``groups`` (feature-group
    name -> feature names); image datasets add ``factor_names``/``factor_sizes``.
    """

    name: str
    train: Split
    test: Split


# Optional capabilities of a dataset. Each protocol is runtime-checkable, so ``isinstance(data,
# HasFeatures)`` asks whether the dataset offers the capability (the attribute is present);
# the accessors below also treat an empty or ``None`` value as absent.


@runtime_checkable
class Named(Protocol):
    """A dataset with a ``name`` (reported beside the metrics)."""

    name: str


@runtime_checkable
class HasFeatures(Protocol):
    """A tabular dataset's input features: ``features``, a list of :class:`Feature` with the
    model-space columns each one owns."""

    features: Sequence[Feature]


@runtime_checkable
class HasFeatureGroups(Protocol):
    """Named groups of features: ``groups`` maps a group name to feature names (the semantic
    grouping, e.g. ``{"demographics": ["age", "sex"], ...}``)."""

    groups: Mapping[str, Sequence[str]]


@runtime_checkable
class GroupsColumns(Protocol):
    """A dataset that builds groupings of its model-space columns by kind: ``"semantic"``,
    ``"correlation"``, ``"random"`` (group name -> column indices)."""

    def group_columns(self, kind: str, seed: int = 0) -> Mapping[str, Sequence[int]]: ...


@runtime_checkable
class GroupsFeatures(Protocol):
    """A dataset that builds groupings of its features by kind (group name -> feature names)."""

    def feature_groups(self, kind: str, seed: int = 0) -> Mapping[str, Sequence[str]]: ...


@runtime_checkable
class FactorSampler(Protocol):
    """A ground-truth generator (disentanglement_lib's ``GroundTruthData``): draws factor classes
    ``(n, K)`` and renders observations of chosen factors."""

    def sample_factors(self, num: int, random_state: Any) -> np.ndarray: ...

    def sample_observations_from_factors(self, factors: np.ndarray, random_state: Any) -> Any: ...


@runtime_checkable
class HasFactorSizes(Protocol):
    """``factor_sizes``: the number of classes of each of the K ground-truth factors."""

    factor_sizes: Sequence[int] | None


@runtime_checkable
class HasFactorNames(Protocol):
    """``factor_names``: the names of the K ground-truth factors."""

    factor_names: Sequence[str] | None


@runtime_checkable
class HasLabels(Protocol):
    """A split with a downstream label ``y`` ``(N,)`` (``None`` when it has none)."""

    y: np.ndarray | None


@runtime_checkable
class HasFactors(Protocol):
    """A split with ground-truth factor classes ``factors`` ``(N, K)`` (``None`` when none)."""

    factors: np.ndarray | None


def dataset_name(data: Any) -> str:
    """``data.name``, or the type name of data without one (a tensor, an array)."""
    return str(data.name) if isinstance(data, Named) else type(data).__name__


def features_of(data: Any) -> Sequence[Feature] | None:
    """The dataset's features (:class:`HasFeatures`), or ``None`` when it declares none."""
    return (data.features or None) if isinstance(data, HasFeatures) else None


def feature_groups_of(data: Any) -> Mapping[str, Sequence[str]] | None:
    """The dataset's named feature groups (:class:`HasFeatureGroups`), or ``None``."""
    return (data.groups or None) if isinstance(data, HasFeatureGroups) else None


def is_factor_dataset(data: Any) -> bool:
    """Whether ``data`` can resample ground-truth factors: a :class:`FactorSampler` with
    ``factor_sizes``."""
    return isinstance(data, FactorSampler) and factor_sizes_of(data) is not None


def factor_sizes_of(data: Any) -> Sequence[int] | None:
    """``data.factor_sizes`` (:class:`HasFactorSizes`), or ``None``."""
    return data.factor_sizes if isinstance(data, HasFactorSizes) else None


def factor_names_of(data: Any) -> list[str]:
    """``data.factor_names`` (:class:`HasFactorNames`) as a list; empty when it has none."""
    return list((data.factor_names or []) if isinstance(data, HasFactorNames) else [])


def labels_of(split: Any) -> np.ndarray | None:
    """``split.y`` (:class:`HasLabels`), or ``None``."""
    return split.y if isinstance(split, HasLabels) else None


def factors_of(split: Any) -> np.ndarray | None:
    """``split.factors`` (:class:`HasFactors`), or ``None``."""
    return split.factors if isinstance(split, HasFactors) else None


@dataclass(frozen=True)
class ColumnGroups:
    """A partition of model-space columns into named groups (feature groups, or one-hot blocks)."""

    names: tuple[str, ...]
    columns: tuple[tuple[int, ...], ...] = field(repr=False)

    def __len__(self) -> int:
        return len(self.names)


# --------------------------------------------------------------------------- checks


def optional_attr(obj: Any, name: str, default: Any = None) -> Any:
    """``getattr(obj, name, default)`` without raising and catching an AttributeError when an
    ``nn.Module`` lacks the attribute (~1 us each, on every engine call)."""
    if isinstance(obj, nn.Module):
        own = obj.__dict__
        if name in own:
            return own[name]
        if not (hasattr(type(obj), name) or name in own.get("_modules", ())
                or name in own.get("_parameters", ()) or name in own.get("_buffers", ())):
            return default
    return getattr(obj, name, default)


def check_vae(model: Any) -> Any:
    """Return ``model`` if it speaks the protocol, else raise :class:`NotAVAEError`.

    The message names what is missing and points to ``circuitvae.wrap``.
    """
    missing = [name for name in ("encode", "decode") if not callable(getattr(model, name, None))]
    if missing:
        raise NotAVAEError(
            f"{type(model).__name__} has no {' or '.join(m + '()' for m in missing)}; the engine "
            "needs encode(x) -> Posterior and decode(z) -> Tensor. Bring it to the protocol with "
            "circuitvae.wrap(model) or circuitvae.wrap(encode=f, decode=g, module=m)."
        )
    latent_dim = getattr(model, "latent_dim", None)
    if not isinstance(latent_dim, int) and not (latent_dim is None and pending_discovery(model)):
        raise NotAVAEError(
            f"{type(model).__name__} has no integer `latent_dim`; wrap it with circuitvae.wrap."
        )
    return model


def pending_discovery(model: Any) -> bool:
    """Whether ``model`` learns its input shape and latent size from the first batch it is
    given (it has a ``discover(example)`` method and no ``input_shape`` yet), as a model wrapped
    by ``circuitvae.wrap`` without arguments does."""
    return callable(optional_attr(model, "discover")) and optional_attr(
        model, "input_shape") is None


def root_module(model: Any) -> nn.Module:
    """The nn.Module whose submodules are the model's sites."""
    module = model if isinstance(model, nn.Module) else getattr(model, "module", None)
    if not isinstance(module, nn.Module):
        raise NotAVAEError(
            f"{type(model).__name__} is not an nn.Module and has no `.module`; the hook engine "
            "needs modules to hook. Use circuitvae.wrap(encode=f, decode=g, module=m)."
        )
    return module


def model_device(model: Any) -> torch.device:
    """The device of the model's first parameter or buffer (CPU for a parameterless model)."""
    return model_placement(model)[0]


def _first_tensor(module: nn.Module, registry: str) -> Tensor | None:
    """``next(module.parameters())`` (or buffers), in the same pre-order, without building
    the generator chain: a few dict lookups instead of ~6 us per call."""
    for tensor in getattr(module, registry).values():
        if tensor is not None:
            return tensor
    for child in module._modules.values():
        if child is not None:
            found = _first_tensor(child, registry)
            if found is not None:
                return found
    return None


def model_placement(model: Any) -> tuple[torch.device, torch.dtype]:
    """Device and floating dtype of the model's first parameter or buffer (CPU, float32 if none)."""
    module = root_module(model)
    tensor = _first_tensor(module, "_parameters")
    if tensor is None:
        tensor = _first_tensor(module, "_buffers")
    if tensor is None:
        return torch.device("cpu"), torch.float32
    dtype = tensor.dtype if tensor.is_floating_point() else torch.float32
    return tensor.device, dtype


def as_tensor(x: Any, *, name: str = "x") -> Tensor:
    """Convert an array-like to a float32 tensor, rejecting empty, NaN and Inf input."""
    if isinstance(x, Tensor):
        t = x
    elif isinstance(x, np.ndarray | Sequence) and not isinstance(x, str | bytes):
        array = np.asarray(x)
        if array.dtype.kind not in "biuf":
            raise CircuitVAEError(f"{name} must be numeric, got an array of dtype {array.dtype}")
        t = torch.as_tensor(array)
    else:
        raise CircuitVAEError(f"{name} must be a tensor or array, got {type(x).__name__}")
    if t.dtype == torch.bool or not (t.is_floating_point() or t.dtype in _INT_DTYPES):
        raise CircuitVAEError(f"{name} must be numeric, got dtype {t.dtype}")
    if not t.is_floating_point():
        t = t.float()
    if t.ndim == 0 or t.shape[0] == 0:
        raise CircuitVAEError(f"{name} is empty (shape {tuple(t.shape)}); need at least one row")
    # Any NaN/Inf makes the sum non-finite; one reduction read back as a Python float is ~30x
    # cheaper than isfinite().all(). A non-finite sum of finite values (overflow) falls through
    # to the exact check.
    if not math.isfinite(t.sum().item()) and not bool(torch.isfinite(t).all()):
        bad = ~torch.isfinite(t)
        rows = bad.reshape(t.shape[0], -1).any(dim=1).nonzero().flatten()
        kind = "NaN" if torch.isnan(t).any() else "Inf"
        raise CircuitVAEError(
            f"{name} contains {kind} values in {len(rows)} row(s), first at row {int(rows[0])}; "
            "impute or drop them first"
        )
    return t


_INT_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def check_input(model: Any, x: Any, *, name: str = "x") -> Tensor:
    """Validate ``model`` (:func:`check_vae`) and a batch of its inputs (:func:`as_tensor`, the
    row shape against ``input_shape``); the batch on the model's device in its dtype.

    This is the check at the door of every public entry point; the passes inside one call run
    unchecked (:func:`circuitvae.hooks.run_unchecked`).
    """
    check_vae(model)
    t = as_tensor(x, name=name)
    if pending_discovery(model):
        model.discover(t)  # the first batch the engine sees: input shape and latent size
    shape = optional_attr(model, "input_shape")
    if shape is not None and tuple(t.shape[1:]) != tuple(shape):
        raise CircuitVAEError(
            f"{name} has shape {tuple(t.shape)}, but {type(model).__name__} expects "
            f"(N, {', '.join(map(str, shape))})"
        )
    return to_model_placement(model, t)


def check_latent(model: Any, z: Any, *, name: str = "z") -> Tensor:
    """Validate ``model`` and a latent batch ``(N, latent_dim)`` for ``decode``; the batch on the
    model's device in its dtype."""
    check_vae(model)
    t = as_tensor(z, name=name)
    if model.latent_dim is None:
        raise CircuitVAEError(
            f"the latent size of {type(model).__name__} is not known yet: it is found on the "
            "first input batch the engine sees (any call given inputs x), or pass latent_dim= "
            "to circuitvae.wrap"
        )
    if t.ndim != 2 or t.shape[1] != model.latent_dim:
        raise CircuitVAEError(
            f"latent batch has shape {tuple(t.shape)}; {type(model).__name__} decodes "
            f"(N, {model.latent_dim})"
        )
    return to_model_placement(model, t)


def to_model_placement(model: Any, t: Tensor) -> Tensor:
    """``t`` on the model's device in its floating dtype; ``t`` itself when it already is."""
    device, dtype = model_placement(model)
    if t.dtype != dtype or t.device != device:
        t = t.to(device=device, dtype=dtype)
    return t


def encode(model: Any, x: Tensor) -> Posterior:
    """``model.encode(x)``, checked to return a :class:`Posterior`."""
    post = model.encode(x)
    if not isinstance(post, Posterior):
        raise NotAVAEError(
            f"{type(model).__name__}.encode returned {type(post).__name__}, not a "
            "circuitvae.Posterior; wrap the model with circuitvae.wrap(model), which understands "
            "(mu, logvar) tuples, distributions and dicts"
        )
    return post


def check_posterior_shape(model: Any, post: Posterior, rows: int,
                          x_shape: tuple[int, ...]) -> None:
    """Raise unless ``encode`` of ``rows`` rows returned mean (and logvar) of shape
    ``(rows, latent_dim)``: shapes only, nothing read from the device."""
    d = optional_attr(model, "latent_dim")
    mean = post.mean
    ok = (isinstance(mean, Tensor) and mean.ndim == 2 and mean.shape[0] == rows
          and (not isinstance(d, int) or mean.shape[1] == d))
    if ok and post.logvar is not None:
        ok = isinstance(post.logvar, Tensor) and post.logvar.shape == mean.shape
    if not ok:
        got = tuple(mean.shape) if isinstance(mean, Tensor) else type(mean).__name__
        lv = post.logvar
        lv_got = "" if lv is None else (
            f", logvar {tuple(lv.shape) if isinstance(lv, Tensor) else type(lv).__name__}")
        raise NotAVAEError(
            f"{type(model).__name__}.encode on inputs of shape {x_shape} returned a posterior "
            f"with mean {got}{lv_got}; expected ({rows}, {d if isinstance(d, int) else 'd'}) "
            "(one row per input row, latent_dim columns)")


def check_decoded_shape(model: Any, out: Any, rows: int, z_shape: tuple[int, ...]) -> None:
    """Raise unless ``decode`` of ``rows`` latent rows returned a tensor with ``rows`` rows."""
    if not isinstance(out, Tensor) or out.ndim < 1 or out.shape[0] != rows:
        got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise NotAVAEError(
            f"{type(model).__name__}.decode on latents of shape {z_shape} returned {got}; "
            f"expected a tensor with one row per latent row ({rows}, ...)")


def reconstruct(model: Any, x: Tensor) -> Tensor:
    """The deterministic pass the engine analyses: ``decode(encode(x).mean)``."""
    return model.decode(encode(model, x).mean)


def resolve_inputs(
    data: Any, model: Any, *, split: str = "test", n: int | None = None, seed: int = 0
) -> Tensor:
    """Inputs from a tensor, an array, a :class:`Split` or a dataset, checked for ``model``.

    ``n`` rows are drawn without replacement with ``seed`` when the data has more.
    """
    if isinstance(data, DatasetLike):
        data = getattr(data, split)
    if isinstance(data, Split):
        data = data.x
    x = check_input(model, data, name="data")
    idx = sample_rows(x.shape[0], n, seed)
    if idx is not None:
        x = x[torch.as_tensor(idx, device=x.device)]
    return x


def sample_rows(total: int, n: int | None, seed: int = 0) -> np.ndarray | None:
    """The rows :func:`resolve_inputs` keeps of ``total``: ``n`` drawn without replacement with
    ``seed``, sorted; ``None`` (all rows) when ``n`` is ``None`` or not below ``total``."""
    if n is None or total <= n:
        return None
    return np.sort(np.random.default_rng(seed).choice(total, size=n, replace=False))


def check_feature_groups(groups: Mapping[str, Sequence[str]], feature_names: Sequence[str],
                         *, what: str = "group") -> None:
    """Check that ``groups`` (group name -> feature names) partitions ``feature_names``: no
    empty group, no unknown feature, no feature in two groups, none left out."""
    names = set(feature_names)
    seen: dict[str, str] = {}
    for g, members in groups.items():
        if not members:
            raise CircuitVAEError(f"{what} {g!r} has no features")
        for m in members:
            if m not in names:
                raise CircuitVAEError(f"{what} {g!r} names unknown feature {m!r}")
            if m in seen:
                raise CircuitVAEError(f"feature {m!r} is in both {seen[m]!r} and {g!r}")
            seen[m] = g
    left = [n for n in feature_names if n not in seen]
    if left:
        raise CircuitVAEError(f"features in no {what}: {left}; every feature belongs to one")


def column_groups(groups: Mapping[str, Sequence[int]], n_columns: int) -> ColumnGroups:
    """Validate that ``groups`` partitions columns ``0..n_columns-1``; say what is wrong if not."""
    if not groups:
        raise CircuitVAEError("groups is empty; give at least one group of columns")
    seen: dict[int, str] = {}
    for name, cols in groups.items():
        if len(cols) == 0:
            raise CircuitVAEError(f"group {name!r} has no columns")
        for c in cols:
            if not 0 <= int(c) < n_columns:
                raise CircuitVAEError(
                    f"group {name!r} names column {c}, outside 0..{n_columns - 1}"
                )
            if int(c) in seen:
                raise CircuitVAEError(
                    f"groups overlap: column {c} is in both {seen[int(c)]!r} and {name!r}"
                )
            seen[int(c)] = name
    missing = sorted(set(range(n_columns)) - set(seen))
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
        raise CircuitVAEError(
            f"groups do not cover the columns: {len(missing)} column(s) in no group ({shown})"
        )
    return ColumnGroups(
        names=tuple(groups), columns=tuple(tuple(int(c) for c in v) for v in groups.values())
    )


# --------------------------------------------------------------------------- argument checks


def check_int(name: str, value: Any, *, minimum: int | None = None,
              allow_none: bool = False) -> int | None:
    """``value`` as an int when it is an integer (not a bool) of at least ``minimum``
    (``None`` too when ``allow_none``); else a :class:`CircuitVAEError` naming ``name``."""
    if value is None and allow_none:
        return None
    allowed = "an integer" + (f" >= {minimum}" if minimum is not None else "") + (
        " or None" if allow_none else "")
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise CircuitVAEError(f"{name} must be {allowed}, got {value!r} "
                              f"({type(value).__name__})")
    if minimum is not None and int(value) < minimum:
        raise CircuitVAEError(f"{name} must be {allowed}, got {value!r}")
    return int(value)


def check_positive_real(name: str, value: Any) -> float:
    """``value`` as a float when it is a finite real number > 0; else a
    :class:`CircuitVAEError` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise CircuitVAEError(f"{name} must be a finite number > 0, got {value!r} "
                              f"({type(value).__name__})")
    if not (math.isfinite(float(value)) and float(value) > 0):
        raise CircuitVAEError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """``value`` when it is one of ``choices``; else a :class:`CircuitVAEError` listing them."""
    if not isinstance(value, str) or value not in choices:
        raise CircuitVAEError(
            f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def check_bool(name: str, value: Any) -> bool:
    """``value`` when it is a bool; else a :class:`CircuitVAEError` naming ``name``."""
    if not isinstance(value, bool | np.bool_):
        raise CircuitVAEError(f"{name} must be True or False, got {value!r} "
                              f"({type(value).__name__})")
    return bool(value)
