// elementwise kernels on the CPU (in progress).
