// glibc's malloc tuning (mallopt), which the Glibc module leaves out; Linux only.
#include <malloc.h>
