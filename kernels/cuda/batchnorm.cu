// batchnorm kernels on CUDA (in progress).
