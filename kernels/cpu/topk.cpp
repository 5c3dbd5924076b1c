// topk kernels on the CPU (in progress).
