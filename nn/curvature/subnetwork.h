// Subnetwork selection: which S of the D weights get a full-covariance posterior in
// subnetwork Laplace (Daxberger et al., ICML 2021). Each rule returns an i64 [S] index into θ,
// sorted ascending (θ order), on the device of its input, ready for DenseCurvature and
// per_sample_jacobian. Throws postr::Error unless 1 ≤ S ≤ D.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "postr/core/tensor.h"
#include "postr/nn/module.h"

namespace postr::nn {

// The Wasserstein rule: with a diagonal posterior (diagonal Laplace, diagonal SWAG) the
// subnetwork closest in 2-Wasserstein distance to the full-covariance posterior keeps the S
// weights of largest marginal variance. variances: [D], finite and non-negative. On CUDA the
// selection is the radix-select top-k kernel.
Tensor select_largest_variance(const Tensor& variances, std::int64_t s);

// The S weights the network's outputs are most sensitive to over the data: the largest entries
// of the diagonal GGN (Σ_n J_niᵀ Λ_n J_ni). A weight's share of the linearized predictive
// variance under a diagonal posterior, G_ii / (G_ii + λ), grows with G_ii, so this keeps the
// weights that can carry predictive uncertainty. Use it with a diagonal Laplace: there the
// Wasserstein rule's largest variances 1/(G_ii + λ) are the weights with the least curvature —
// often ones the outputs do not depend on at all (dead units), which add no uncertainty. With
// diagonal SWAG, whose variances come from the SGD trajectory, the Wasserstein rule is the
// paper's choice. ggn_diagonal: [D], finite, non-negative.
Tensor select_largest_curvature(const Tensor& ggn_diagonal, std::int64_t s);

// A uniformly random subset without replacement (the baseline of the paper), from `seed`:
// the same subset on either device.
Tensor select_random(std::int64_t num_parameters, std::int64_t s, std::uint64_t seed,
                     Device device = Device::cpu());

// The S weights of largest magnitude |θ_i| (a pruning-style baseline). theta: [D].
Tensor select_largest_magnitude(const Tensor& theta, std::int64_t s);

// Every parameter of the model's last layer (the module owning the last entry of θ, e.g.
// ResNet's "fc"): last-layer Laplace as a special case of subnetwork Laplace.
Tensor select_last_layer(const Module& model);

// Which parameters a selection rule may choose. The paper selects among weights only (no
// biases, no batch-norm scales and shifts); both are allowed by default here because biases of
// the last layer often carry much of the predictive uncertainty. Layer weights are always
// candidates.
struct Candidates {
    bool biases = true;         // entries named "<module>.bias" outside batch norm
    bool normalization = true;  // every parameter of a BatchNorm2d
};
// The θ positions (i64 [D'], ascending, on θ's device) a rule may choose under `candidates`.
Tensor candidate_parameters(const Module& model, Candidates candidates);
// A rule applied to candidates only: pass the scores restricted to them
// (index_select(scores, 0, candidates)) to a rule, then map its choice back to θ positions with
// this (ascending, ready for SubnetworkLaplace). chosen: i64 [S] positions into `candidates`.
Tensor select_within(const Tensor& candidates, const Tensor& chosen);

// Per-layer groups of a subnetwork, for per-layer prior precisions: the i64 [S] group of each
// index entry (0 … G−1, numbered in θ order of the layers that have a selected weight) and the
// layers' names ("layer1.0.conv1"; "" for the root's own parameters). Weight and bias of one
// module share a group.
struct SubnetworkGroups {
    Tensor group;                    // i64 [S], on the index's device
    std::vector<std::string> names;  // [G]
};
SubnetworkGroups group_by_layer(const Module& model, const Tensor& index);

}  // namespace postr::nn
