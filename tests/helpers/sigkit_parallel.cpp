// The sigkit-parallel tool built as a test helper, so that the tests exercise
// the very program users get even when tools are not built.
#include "../../tools/sigkit-parallel/sigkit-parallel.cpp"
