// linalg kernels on CUDA (in progress).
