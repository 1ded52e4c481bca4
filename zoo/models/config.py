"""Configuration dataclasses of the zoo architectures.

Every hyperparameter the seed papers do not fix is a field here with its documented default, so
a checkpoint's ``config.json`` records it. Defaults marked [paper] come from the seed papers
(methods.md section 5), [our choice] are ours (see docs/zoo.md).

Configs are frozen and hold plain data only (the feature spec is a tuple of dicts), so
``dataclasses.asdict(config)`` is JSON-serializable and ``from_dict(asdict(config)) == config``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from circuitvae.protocol import (
    CircuitVAEError,
    Feature,
    check_bool,
    check_int,
    check_positive_real,
    column_groups,
)

FeatureSpec = tuple[dict[str, Any], ...]


def normalize_features(
    features: Sequence[Feature | Mapping[str, Any]] | None, n_columns: int
) -> FeatureSpec | None:
    """Features as plain dicts ``{"name", "kind", "columns"}``, checked to partition the columns.

    A numeric feature must own exactly one column, a categorical one its one-hot block;
    together they must cover columns ``0..n_columns-1`` exactly once.
    """
    if features is None:
        return None
    out: list[dict[str, Any]] = []
    for f in features:
        if isinstance(f, Feature):
            name, kind, cols = f.name, f.kind, f.columns
        elif isinstance(f, Mapping):
            try:
                name, kind, cols = f["name"], f["kind"], f["columns"]
            except KeyError as err:
                raise CircuitVAEError(
                    f"feature {dict(f)!r} lacks key {err}; need name, kind, columns"
                ) from None
        else:
            raise CircuitVAEError(
                f"features must be circuitvae.Feature objects or dicts, got {type(f).__name__}"
            )
        cols = tuple(int(c) for c in cols)
        if kind not in ("numeric", "categorical"):
            raise CircuitVAEError(
                f"feature {name!r} has kind {kind!r}; expected 'numeric' or 'categorical'"
            )
        if kind == "numeric" and len(cols) != 1:
            raise CircuitVAEError(
                f"numeric feature {name!r} must own exactly one column, got {len(cols)}"
            )
        if kind == "categorical" and not cols:
            raise CircuitVAEError(f"categorical feature {name!r} owns no columns")
        out.append({"name": str(name), "kind": kind, "columns": cols})
    names = [f["name"] for f in out]
    if len(set(names)) != len(names):
        raise CircuitVAEError("feature names are not unique")
    column_groups({f["name"]: f["columns"] for f in out}, n_columns)
    return tuple(out)


@dataclass(frozen=True, kw_only=True)
class VAEConfig:
    """Config of the standard VAE (Kingma & Welling); base of every zoo config.

    * ``input_shape``: one input row, ``(D,)`` for tabular data or ``(C, H, W)`` for images.
    * ``features``: the tabular feature spec (numeric columns, categorical one-hot blocks);
      ``None`` means every column is numeric. Stored as plain dicts.
    * ``latent_dim`` = 10 [paper].
    * ``backbone``: ``"mlp"`` or ``"conv"``; ``None`` picks mlp for 1-D inputs, conv for images.
    * ``hidden`` = (256, 128): MLP widths, input -> 256 -> 128 -> latent, mirrored [our choice].
    * ``conv_channels`` = (32, 32, 64, 64), kernel 4, stride 2, padding 1 and ``fc_hidden`` = 256:
      the Burgess et al. / disentanglement_lib encoder, mirrored decoder [our choice].
    * ``likelihood``: ``"bernoulli"`` (binary images, sigmoid output) or ``"mixed"`` (Gaussian
      with unit variance on numeric columns, cross-entropy per categorical block); ``None``
      picks bernoulli for conv, mixed for mlp.
    """

    input_shape: tuple[int, ...]
    features: FeatureSpec | None = None
    latent_dim: int | None = 10
    backbone: str | None = None
    hidden: tuple[int, ...] = (256, 128)
    conv_channels: tuple[int, ...] = (32, 32, 64, 64)
    fc_hidden: int = 256
    likelihood: str | None = None

    def __post_init__(self) -> None:
        shape = tuple(int(s) for s in self.input_shape)
        if not shape or any(s <= 0 for s in shape):
            raise CircuitVAEError(f"input_shape must be positive sizes, got {self.input_shape}")
        object.__setattr__(self, "input_shape", shape)
        backbone = self.backbone or ("mlp" if len(shape) == 1 else "conv")
        if backbone not in ("mlp", "conv"):
            raise CircuitVAEError(f"backbone must be 'mlp' or 'conv', got {backbone!r}")
        if backbone == "mlp" and len(shape) != 1:
            raise CircuitVAEError(f"the mlp backbone needs 1-D rows (D,), got {shape}")
        if backbone == "conv":
            if len(shape) != 3 or shape[1] % 16 or shape[2] % 16:
                raise CircuitVAEError(
                    f"the conv backbone needs images (C, H, W) with H and W divisible by 16 "
                    f"(four stride-2 convolutions), got {shape}"
                )
            if len(self.conv_channels) != 4:
                raise CircuitVAEError("conv_channels must list four channel counts")
        object.__setattr__(self, "backbone", backbone)
        likelihood = self.likelihood or ("bernoulli" if backbone == "conv" else "mixed")
        if likelihood not in ("bernoulli", "mixed"):
            raise CircuitVAEError(
                f"likelihood must be 'bernoulli' or 'mixed', got {likelihood!r}"
            )
        object.__setattr__(self, "likelihood", likelihood)
        if self.features is not None and backbone != "mlp":
            raise CircuitVAEError("features (a tabular spec) only apply to the mlp backbone")
        object.__setattr__(self, "features", normalize_features(self.features, shape[0]))
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        object.__setattr__(self, "conv_channels", tuple(int(c) for c in self.conv_channels))
        self._check_latent_dim()

    def _check_latent_dim(self) -> None:
        object.__setattr__(self, "latent_dim", check_int("latent_dim", self.latent_dim, minimum=1))

    def feature_list(self) -> list[Feature]:
        """The feature spec as :class:`circuitvae.Feature` objects (empty when none)."""
        return [Feature(f["name"], f["kind"], tuple(f["columns"])) for f in self.features or ()]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict of every field."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VAEConfig:
        """Rebuild from :meth:`to_dict` output (lists become tuples); unknown keys are errors."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise CircuitVAEError(f"{cls.__name__} has no field(s) {', '.join(unknown)}")
        kwargs = {k: tuple(v) if isinstance(v, list) and k != "features" else v
                  for k, v in data.items()}
        return cls(**kwargs)


@dataclass(frozen=True, kw_only=True)
class BetaVAEConfig(VAEConfig):
    """beta-VAE (Higgins et al.): ``beta`` = 4.0 [paper]."""

    beta: float = 4.0


@dataclass(frozen=True, kw_only=True)
class BetaTCVAEConfig(VAEConfig):
    """beta-TC-VAE (Chen et al.): ``beta`` = 6.0 weights the total correlation [our choice;
    the papers name the architecture, not its beta]."""

    beta: float = 6.0


@dataclass(frozen=True, kw_only=True)
class FactorVAEConfig(VAEConfig):
    """FactorVAE (Kim & Mnih).

    * ``gamma`` = 10 [our choice]: weight of the discriminator's total-correlation estimate.
    * ``disc_hidden`` = 1000, ``disc_layers`` = 6: the discriminator MLP, LeakyReLU(0.2)
      [our choice, after Kim & Mnih / disentanglement_lib].
    * ``disc_lr`` = 1e-4, ``disc_betas`` = (0.5, 0.9): its own Adam [our choice, Kim & Mnih].
    """

    gamma: float = 10.0
    disc_hidden: int = 1000
    disc_layers: int = 6
    disc_lr: float = 1e-4
    disc_betas: tuple[float, float] = (0.5, 0.9)


@dataclass(frozen=True, kw_only=True)
class DIPVAEIIConfig(VAEConfig):
    """DIP-VAE-II (Kumar et al.): ``lambda_od`` = 10, ``lambda_d`` = 10 [our choice]."""

    lambda_od: float = 10.0
    lambda_d: float = 10.0


@dataclass(frozen=True, kw_only=True)
class VQVAEConfig(VAEConfig):
    """VQ-VAE (van den Oord et al.).

    * ``num_codes`` = 512 codebook entries, ``commitment`` = 0.25 [our choice].
    * ``codebook_weight`` = 1.0: weight of the codebook (embedding) loss [our choice, as pythae].
    * ``num_positions`` P = 10 latent positions, ``embedding_dim`` e = 8 per position
      [our choice]: the encoder's last layer outputs ``z_e`` of ``P * e`` values, quantized
      position by position. ``latent_dim`` is ``P * e`` (set automatically when ``None``).
    """

    latent_dim: int | None = None
    num_codes: int = 512
    commitment: float = 0.25
    codebook_weight: float = 1.0
    num_positions: int = 10
    embedding_dim: int = 8

    def _check_latent_dim(self) -> None:
        for name in ("num_positions", "embedding_dim", "num_codes"):
            object.__setattr__(self, name, check_int(name, getattr(self, name), minimum=1))
        flat = self.num_positions * self.embedding_dim
        if self.latent_dim is None:
            object.__setattr__(self, "latent_dim", flat)
        elif self.latent_dim != flat:
            raise CircuitVAEError(
                f"VQ-VAE latent_dim is num_positions * embedding_dim = {flat}, got "
                f"{self.latent_dim}; set num_positions and embedding_dim instead"
            )


@dataclass(frozen=True, kw_only=True)
class VAESAEConfig(VAEConfig):
    """VAE-SAE (methods.md section 8): a VAE with a scheduled sparse layer.

    * ``sparse_units`` = 500, ``k_start`` = 500, ``k_end`` = 50, ``schedule_epochs`` = 50
      [seed]: the active units are cut from 500 to 50 over 50 epochs.
    * ``sparsity``: ``"topk"`` or ``"l1"`` [seed: both methods].
    * ``schedule_shape`` = ``"linear"`` (also ``"exponential"``, ``"cosine"``) [our choice].
    * ``l1_init`` = 1e-3, ``l1_max_step`` = 2.0: the L1 coefficient's start and the largest
      factor the per-epoch controller may change it by [our choice].
    * ``auxk`` = False, ``auxk_k`` = 256, ``auxk_coef`` = 1/32: the AuxK ablation (Top-k only)
      [our choice, after Gao et al. 2024: k_aux about half the layer, coefficient 1/32].
    """

    sparse_units: int = 500
    sparsity: str = "topk"
    k_start: int = 500
    k_end: int = 50
    schedule_epochs: int = 50
    schedule_shape: str = "linear"
    l1_init: float = 1e-3
    l1_max_step: float = 2.0
    auxk: bool = False
    auxk_k: int = 256
    auxk_coef: float = 1.0 / 32.0

    def __post_init__(self) -> None:
        super().__post_init__()
        from .sparsity_schedule import SparsitySchedule

        if self.sparsity not in ("topk", "l1"):
            raise CircuitVAEError(f"sparsity must be 'topk' or 'l1', got {self.sparsity!r}")
        object.__setattr__(self, "sparse_units",
                           check_int("sparse_units", self.sparse_units, minimum=1))
        SparsitySchedule(self.k_start, self.k_end, self.schedule_epochs, self.schedule_shape)
        if self.k_start > self.sparse_units:
            raise CircuitVAEError(f"k_start ({self.k_start}) exceeds sparse_units "
                                  f"({self.sparse_units})")
        check_positive_real("l1_init", self.l1_init)
        if check_positive_real("l1_max_step", self.l1_max_step) <= 1:
            raise CircuitVAEError(f"l1_max_step must be > 1, got {self.l1_max_step!r}")
        check_bool("auxk", self.auxk)
        check_int("auxk_k", self.auxk_k, minimum=1)
        check_positive_real("auxk_coef", self.auxk_coef)
        if self.auxk and self.sparsity != "topk":
            raise CircuitVAEError("auxk is an ablation of the Top-k method; it needs "
                                  "sparsity='topk'")


@dataclass(frozen=True, kw_only=True)
class BayesAttentionVAEConfig(VAEConfig):
    """Bayesian attention VAE (methods.md section 9) [our choice, each field; the seed names the
    parts, not their settings].

    * ``heads`` = 4: attention heads over the last encoder / first decoder conv feature map.
    * ``tokens`` = 8: on tabular rows, the last hidden layer seen as this many tokens.
    * ``attention`` = True; False gives the same model without attention (an ablation).
    * ``dropout`` = 0.1: MC dropout after every hidden ReLU, kept on for the T passes.
    * ``beta`` = 1.0 and ``warmup_epochs`` = 10: the KL weight rises linearly to beta.
    """

    heads: int = 4
    tokens: int = 8
    attention: bool = True
    dropout: float = 0.1
    beta: float = 1.0
    warmup_epochs: int = 10

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 <= self.dropout < 1.0:
            raise CircuitVAEError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.heads < 1 or self.tokens < 1 or self.warmup_epochs < 0 or self.beta < 0:
            raise CircuitVAEError("heads and tokens must be >= 1, warmup_epochs and beta >= 0")
        if self.attention and self.backbone == "conv" and self.conv_channels[-1] % self.heads:
            raise CircuitVAEError(f"the last conv channels ({self.conv_channels[-1]}) must "
                                  f"split into {self.heads} heads")
        if self.attention and self.backbone == "mlp":
            width = self.hidden[-1]
            if width % self.tokens or (width // self.tokens) % self.heads:
                raise CircuitVAEError(f"the last hidden width ({width}) must split into "
                                      f"{self.tokens} tokens of a multiple of {self.heads} "
                                      "values")
