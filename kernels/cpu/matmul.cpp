// matmul kernels on the CPU (in progress).
