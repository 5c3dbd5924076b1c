// topk kernels on CUDA (in progress).
