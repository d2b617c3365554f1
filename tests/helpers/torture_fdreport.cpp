// Helper for fork_storm_test: reports what a freshly exec'd child inherited.
// Prints one "fd <n> <target>" line per open descriptor (its own directory
// stream excluded), then the SigBlk and SigIgn lines of /proc/self/status.
#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

int main() {
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return 2;
  const int own = ::dirfd(d);
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    const int fd = std::atoi(e->d_name);
    if (fd == own) continue;
    char path[64], target[256];
    std::snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    const ssize_t n = ::readlink(path, target, sizeof target - 1);
    target[n > 0 ? n : 0] = '\0';
    std::printf("fd %d %s\n", fd, target);
  }
  ::closedir(d);
  FILE* status = std::fopen("/proc/self/status", "r");
  if (status == nullptr) return 3;
  char line[256];
  while (std::fgets(line, sizeof line, status) != nullptr)
    if (std::strncmp(line, "SigBlk:", 7) == 0 || std::strncmp(line, "SigIgn:", 7) == 0) std::fputs(line, stdout);
  std::fclose(status);
  return 0;
}
