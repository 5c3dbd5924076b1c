// POSTR_HD marks functions usable from both host code and CUDA device code; plain g++ sees nothing.
#pragma once

#if defined(__CUDACC__)
#define POSTR_HD __host__ __device__
#else
#define POSTR_HD
#endif
