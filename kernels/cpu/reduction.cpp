// reduction kernels on the CPU (in progress).
