// reduction kernels on CUDA (in progress).
