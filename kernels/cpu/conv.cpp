// conv kernels on the CPU (in progress).
