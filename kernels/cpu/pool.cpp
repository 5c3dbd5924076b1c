// pool kernels on the CPU (in progress).
