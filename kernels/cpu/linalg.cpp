// linalg kernels on the CPU (in progress).
