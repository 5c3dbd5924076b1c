// indexing kernels on the CPU (in progress).
