"""A dataset's optional capabilities are runtime-checkable protocols of circuitvae.protocol."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

import circuitvae as cv
from circuitvae.protocol import (
    DatasetLike,
    FactorSampler,
    GroupsColumns,
    GroupsFeatures,
    HasFactorNames,
    HasFactors,
    HasFactorSizes,
    HasFeatureGroups,
    HasFeatures,
    HasLabels,
    Named,
    Split,
    dataset_name,
    factor_names_of,
    factor_sizes_of,
    factors_of,
    feature_groups_of,
    features_of,
    is_factor_dataset,
    labels_of,
)

CAPABILITIES = (Named, HasFeatures, HasFeatureGroups, GroupsColumns, GroupsFeatures,
                FactorSampler, HasFactorSizes, HasFactorNames)


def _offered(data) -> set[str]:
    return {p.__name__ for p in CAPABILITIES if isinstance(data, p)}


def test_tabular_and_image_datasets_declare_what_they_offer(tabular, fake_images):
    assert _offered(tabular) == {"Named", "HasFeatures", "HasFeatureGroups", "GroupsColumns"}
    assert _offered(fake_images) == {"Named", "FactorSampler", "HasFactorSizes",
                                     "HasFactorNames"}
    assert isinstance(tabular, DatasetLike) and isinstance(fake_images, DatasetLike)
    assert isinstance(tabular.test, HasLabels) and isinstance(tabular.test, HasFactors)
    assert _offered(torch.zeros(3, 2)) <= {"Named"}  # a tensor has a .name (None)
    assert _offered(np.zeros((3, 2))) == set()


def test_accessors_treat_empty_and_none_as_absent(tabular, fake_images):
    assert features_of(tabular) == tabular.features and feature_groups_of(tabular) == tabular.groups
    assert features_of(fake_images) is None and feature_groups_of(fake_images) is None
    assert factor_sizes_of(fake_images) == (4, 4) and factor_names_of(fake_images) == ["row", "col"]
    assert factor_sizes_of(tabular) is None and factor_names_of(tabular) == []
    assert is_factor_dataset(fake_images) and not is_factor_dataset(tabular)
    split = Split(torch.zeros(2, 3))
    assert labels_of(split) is None and factors_of(split) is None
    assert labels_of(object()) is None and factors_of(object()) is None
    assert dataset_name(tabular) == "fake" and dataset_name(np.zeros(2)) == "ndarray"

    @dataclass
    class Bare:
        name: str
        train: Split
        test: Split
        features: list
        groups: dict

    bare = Bare("bare", split, split, [], {})
    assert isinstance(bare, HasFeatures) and features_of(bare) is None
    assert feature_groups_of(bare) is None


class _Sampler:
    """A factor generator without factor_sizes: not enough to resample factors."""

    def sample_factors(self, num, random_state):
        return np.zeros((num, 1), dtype=int)

    def sample_observations_from_factors(self, factors, random_state):
        return np.zeros((len(factors), 6), dtype=np.float32)


def test_a_sampler_needs_factor_sizes_to_be_a_factor_dataset():
    sampler = _Sampler()
    assert isinstance(sampler, FactorSampler) and not is_factor_dataset(sampler)
    sampler.factor_sizes = (1,)
    assert is_factor_dataset(sampler)


def test_metrics_read_capabilities_through_the_protocols(mlp, tabular, fake_images, conv_vae):
    assert cv.reconstruction(mlp, tabular.test.x[:, :6]).per_type == {}
    res = cv.downstream_auc(conv_vae, fake_images)  # labels from split.y
    assert 0.0 <= res.value <= 1.0
    with pytest.raises(cv.CircuitVAEError, match="declares no feature groups"):
        from circuitvae.metrics.fgd import fgd_groups

        @dataclass
        class NoGroups:
            name: str
            train: Split
            test: Split
            features: list

        fgd_groups(NoGroups("ng", tabular.train, tabular.test, tabular.features))
