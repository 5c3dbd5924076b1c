// softmax kernels on the CPU (in progress).
