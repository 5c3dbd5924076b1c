// elementwise kernels on CUDA (in progress).
