// matmul kernels on CUDA (in progress).
