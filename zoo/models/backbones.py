"""Encoder and decoder bodies shared by every zoo architecture.

Each body is an ``nn.Sequential`` so every layer, and every activation after its nonlinearity,
is a hookable site with a stable name (``encoder.0``, ``encoder.1``, ...).

MLP (tabular) [our choice]::

    encoder: 0 Linear(D, 256), 1 ReLU, 2 Linear(256, 128), 3 ReLU        -> heads -> latent
    decoder: 0 Linear(d, 128), 1 ReLU, 2 Linear(128, 256), 3 ReLU, 4 Linear(256, D) (logits)

Conv (64x64 images; Burgess et al. / disentanglement_lib)::

    encoder: 0 Conv(C,32) 1 ReLU 2 Conv(32,32) 3 ReLU 4 Conv(32,64) 5 ReLU 6 Conv(64,64) 7 ReLU
             8 Flatten 9 Linear(64*4*4, 256) 10 ReLU                      -> heads -> latent
    decoder: 0 Linear(d, 256) 1 ReLU 2 Linear(256, 64*4*4) 3 ReLU 4 Unflatten
             5 ConvT(64,64) 6 ReLU 7 ConvT(64,32) 8 ReLU 9 ConvT(32,32) 10 ReLU 11 ConvT(32,C)

All convolutions are 4x4, stride 2, padding 1 (so each halves or doubles H and W).
"""

from __future__ import annotations

from torch import nn

from .config import VAEConfig


def mlp_encoder(config: VAEConfig) -> tuple[nn.Sequential, int]:
    """The MLP encoder body and the width of its last hidden layer."""
    layers: list[nn.Module] = []
    width = config.input_shape[0]
    for h in config.hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    return nn.Sequential(*layers), width


def mlp_decoder(config: VAEConfig, latent_in: int) -> nn.Sequential:
    """The mirrored MLP decoder, ending in a linear layer of output logits."""
    layers: list[nn.Module] = []
    width = latent_in
    for h in reversed(config.hidden):
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, config.input_shape[0]))
    return nn.Sequential(*layers)


def _conv_grid(config: VAEConfig) -> tuple[int, int]:
    _, h, w = config.input_shape
    return h // 16, w // 16


def conv_encoder(config: VAEConfig) -> tuple[nn.Sequential, int]:
    """The 4-conv encoder body (ending with FC ``fc_hidden`` + ReLU) and its output width."""
    layers: list[nn.Module] = []
    channels = config.input_shape[0]
    for c in config.conv_channels:
        layers += [nn.Conv2d(channels, c, kernel_size=4, stride=2, padding=1), nn.ReLU()]
        channels = c
    gh, gw = _conv_grid(config)
    layers += [nn.Flatten(), nn.Linear(channels * gh * gw, config.fc_hidden), nn.ReLU()]
    return nn.Sequential(*layers), config.fc_hidden


def conv_decoder(config: VAEConfig, latent_in: int) -> nn.Sequential:
    """The mirrored transposed-conv decoder, ending in output logits of the input's shape."""
    gh, gw = _conv_grid(config)
    chans = list(reversed(config.conv_channels))  # 64, 64, 32, 32
    layers: list[nn.Module] = [
        nn.Linear(latent_in, config.fc_hidden),
        nn.ReLU(),
        nn.Linear(config.fc_hidden, chans[0] * gh * gw),
        nn.ReLU(),
        nn.Unflatten(1, (chans[0], gh, gw)),
    ]
    outs = [*chans[1:], config.input_shape[0]]
    for i, (cin, cout) in enumerate(zip(chans, outs, strict=True)):
        layers.append(nn.ConvTranspose2d(cin, cout, kernel_size=4, stride=2, padding=1))
        if i < len(outs) - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def build_backbone(config: VAEConfig, latent_in: int) -> tuple[nn.Sequential, int, nn.Sequential]:
    """``(encoder, encoder_width, decoder)`` for the config's backbone."""
    if config.backbone == "mlp":
        enc, width = mlp_encoder(config)
        return enc, width, mlp_decoder(config, latent_in)
    enc, width = conv_encoder(config)
    return enc, width, conv_decoder(config, latent_in)
