// pool kernels on CUDA (in progress).
