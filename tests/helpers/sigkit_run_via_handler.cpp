// sigkit-run with forward_options::dequeue_directly off, so that the
// forwarding tests also cover the handler path (what sigkit::run() does by
// default): sigkit_run_test_via_handler runs sigkit_run_test against it.
#define SIGKIT_RUN_VIA_HANDLER 1
#include "../../tools/sigkit-run/sigkit-run.cpp"
