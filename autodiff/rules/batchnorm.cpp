// batchnorm rules (in progress).
