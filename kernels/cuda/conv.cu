// conv kernels on CUDA (in progress).
