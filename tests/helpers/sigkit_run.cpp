// The sigkit-run tool built as a test helper, so that the tests exercise the
// very program users get even when examples are not built.
#include "../../tools/sigkit-run/sigkit-run.cpp"
