"""Hook backends. The torch forward-hook backend lives in :mod:`circuitvae.hooks`; the optional
nnsight backend in :mod:`circuitvae.backends.nnsight` (imported lazily, ``circuitvae[nnsight]``)."""
