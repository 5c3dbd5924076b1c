// indexing kernels on CUDA (in progress).
