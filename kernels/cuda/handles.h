// cuBLAS and cuSOLVER handles, one per device, bound to postr's stream (internal).
#pragma once

#include <cublas_v2.h>
#include <cusolverDn.h>

namespace postr::cuda {

cublasHandle_t cublas_handle(int device);
cusolverDnHandle_t cusolver_handle(int device);

}  // namespace postr::cuda
