// random kernels on the CPU (in progress).
