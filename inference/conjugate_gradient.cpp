// Preconditioned conjugate gradients (Hestenes & Stiefel 1952; Saad, "Iterative Methods for
// Sparse Linear Systems", Algorithm 9.1) over tensors, and the curvature operators
// (see conjugate_gradient.h).
#include "postr/inference/conjugate_gradient.h"

#include <cmath>
#include <utility>

#include "postr/autodiff/functional.h"
#include "postr/core/error.h"
#include "postr/kernels/ops.h"
#include "postr/nn/curvature/ggn.h"

namespace postr::inference {

namespace {

constexpr const char* kOp = "conjugate_gradient";

double dot(const Tensor& a, const Tensor& b) { return sum(mul(a, b)).item(); }

// f(v), checked to be shaped like v (the operator and the preconditioner are user code).
Tensor apply_checked(const LinearOperator& f, const char* name, const Tensor& v) {
    Tensor out = f(v);
    POSTR_CHECK(out.defined() && out.shape() == v.shape() && out.dtype() == v.dtype() &&
                    out.device() == v.device(),
                kOp, ": ", name, " returned ", out.defined() ? to_string(out.shape()) : "undefined",
                out.defined() ? " " : "", out.defined() ? dtype_name(out.dtype()) : "", " for ",
                to_string(v.shape()), " ", dtype_name(v.dtype()),
                ". Return a tensor of the input's shape, dtype and device.");
    return out;
}

}  // namespace

ConjugateGradientResult conjugate_gradient(const LinearOperator& op, const Tensor& b,
                                           const ConjugateGradientOptions& options) {
    POSTR_CHECK(static_cast<bool>(op), kOp,
                ": the operator is not set. Pass a function v ↦ A v (e.g. ggn_operator).");
    check_defined(kOp, "b", b);
    check_floating(kOp, "b", b);
    POSTR_CHECK(b.numel() > 0, kOp, ": b is empty: ", to_string(b.shape()),
                ". Pass a right-hand side of at least one element.");
    check_finite(kOp, "b", b);
    POSTR_CHECK(std::isfinite(options.damping) && options.damping >= 0.0, kOp,
                ": damping must be >= 0 and finite, got ", options.damping,
                ". Damping δ adds δI to the operator.");
    POSTR_CHECK(std::isfinite(options.tolerance) && options.tolerance >= 0.0, kOp,
                ": tolerance must be >= 0 and finite, got ", options.tolerance,
                ". It bounds the relative residual ‖r‖/‖b‖.");
    POSTR_CHECK(options.max_iterations >= 0, kOp, ": max_iterations must be >= 0, got ",
                options.max_iterations, ". Pass 0 for the default 2·D.");
    const std::int64_t max_iterations =
        options.max_iterations > 0 ? options.max_iterations : 2 * b.numel();
    const double delta = options.damping;

    // (A + δI) v
    auto apply = [&](const Tensor& v) {
        Tensor av = apply_checked(op, "the operator", v);
        if (delta == 0.0) return av;
        // A copy: the operator may return a view of v or a tensor it keeps.
        Tensor damped = av.clone();
        axpy_(damped, delta, v);
        return damped;
    };
    auto precondition = [&](const Tensor& r) {
        return options.preconditioner
                   ? apply_checked(options.preconditioner, "the preconditioner", r)
                   : r;  // read before r next changes: no copy
    };

    ConjugateGradientResult result;
    Tensor r = b.clone();  // r = b − (A + δI) x
    if (options.initial.defined()) {
        check_same_shape(kOp, "initial", options.initial, "b", b);
        check_same_dtype(kOp, "initial", options.initial, "b", b);
        check_same_device(kOp, "initial", options.initial, "b", b);
        check_finite(kOp, "initial", options.initial);
        result.x = options.initial.clone();
        axpy_(r, -1.0, apply(result.x));
    } else {
        result.x = zeros_like(b);
    }
    const double b_norm = std::sqrt(dot(b, b));
    const double threshold = options.tolerance * b_norm;
    double r_norm = std::sqrt(dot(r, r));

    Tensor z = precondition(r);
    double rz = dot(r, z);
    Tensor p = z.clone();
    while (r_norm > threshold && result.iterations < max_iterations) {
        POSTR_CHECK(rz > 0.0, kOp, ": the preconditioner is not positive definite: rᵀM⁻¹r = ", rz,
                    " at iteration ", result.iterations + 1,
                    ". Pass a symmetric positive definite preconditioner (e.g. 1/(diag + δ)).");
        const Tensor ap = apply(p);
        const double curvature = dot(p, ap);
        POSTR_CHECK(std::isfinite(curvature), kOp, ": the operator returned non-finite values at ",
                    "iteration ", result.iterations + 1, " (pᵀ(A + δI)p = ", curvature,
                    "). Check the operator.");
        POSTR_CHECK(curvature > 0.0, kOp, ": non-positive curvature pᵀ(A + δI)p = ", curvature,
                    " at iteration ", result.iterations + 1,
                    ": the operator is not positive definite. Use a positive semidefinite "
                    "curvature (GGN, Fisher) or add damping.");
        const double alpha = rz / curvature;
        axpy_(result.x, alpha, p);
        axpy_(r, -alpha, ap);
        ++result.iterations;
        r_norm = std::sqrt(dot(r, r));
        if (r_norm <= threshold) break;
        z = precondition(r);
        const double rz_next = dot(r, z);
        axpby_(p, 1.0, z, rz_next / rz);  // p ← z + β p, β = r_{k+1}ᵀz_{k+1} / r_kᵀz_k
        rz = rz_next;
    }
    POSTR_CHECK(std::isfinite(r_norm), kOp, ": the residual became non-finite at iteration ",
                result.iterations, ". Check the operator and preconditioner.");
    result.residual_norm = r_norm;
    result.converged = r_norm <= threshold;
    return result;
}

Tensor negative_hessian_vector_product(const LogPosterior& log_posterior, const Tensor& theta,
                                       const Batch& batch, const Tensor& v) {
    POSTR_CHECK(static_cast<bool>(log_posterior), "negative_hessian_vector_product",
                ": log_posterior is not set. Pass a LogPosterior.");
    return neg(
        hessian_vector_product([&](const Var& t) { return log_posterior(t, batch); }, theta, v));
}

LinearOperator negative_hessian_operator(LogPosterior log_posterior, Tensor theta, Batch batch) {
    POSTR_CHECK(static_cast<bool>(log_posterior), "negative_hessian_operator",
                ": log_posterior is not set. Pass a LogPosterior.");
    check_defined("negative_hessian_operator", "theta", theta);
    return [lp = std::move(log_posterior), theta = std::move(theta), batch = std::move(batch)](
               const Tensor& v) { return negative_hessian_vector_product(lp, theta, batch, v); };
}

LinearOperator ggn_operator(nn::Module& model, Tensor inputs, nn::Likelihood likelihood) {
    check_defined("ggn_operator", "inputs", inputs);
    return [&model, inputs = std::move(inputs), likelihood](const Tensor& v) {
        return nn::ggn_vector_product(model, inputs, likelihood, v);
    };
}

LinearOperator empirical_fisher_operator(nn::Module& model, Tensor inputs, Tensor targets,
                                         nn::Likelihood likelihood) {
    check_defined("empirical_fisher_operator", "inputs", inputs);
    check_defined("empirical_fisher_operator", "targets", targets);
    return [&model, inputs = std::move(inputs), targets = std::move(targets),
            likelihood](const Tensor& v) {
        return nn::empirical_fisher_vector_product(model, inputs, targets, likelihood, v);
    };
}

}  // namespace postr::inference
