// softmax kernels on CUDA (in progress).
