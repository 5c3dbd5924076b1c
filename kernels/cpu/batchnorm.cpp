// batchnorm kernels on the CPU (in progress).
