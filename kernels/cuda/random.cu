// random kernels on CUDA (in progress).
