// Helper for the sigkit-run tests: makes itself a child subreaper
// (PR_SET_CHILD_SUBREAPER), then executes its arguments, so that the program
// starts as a subreaper it did not ask to be (the attribute survives exec),
// as tini's test/subreaper-proxy.py does.
//   subreaper_exec PROGRAM [ARGS...]
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs("usage: subreaper_exec PROGRAM [ARGS...]\n", stderr);
    return 2;
  }
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    std::perror("subreaper_exec: PR_SET_CHILD_SUBREAPER");
    return 3;
  }
  ::execvp(argv[1], argv + 1);
  std::perror("subreaper_exec: exec");
  return 127;
}
