// The async-signal-safety interposer (test builds only).
//
// Linked into every test executable of the non-sanitizer builds (see
// tests/CMakeLists.txt, SIGKIT_SAFETY_INTERPOSER). It replaces malloc and
// friends, pthread mutex and rwlock locking, the C++ static-guard functions
// and the common stdio entry points with versions that abort the process,
// loudly, if they are called while a sigkit signal handler is running on the
// calling thread. sigkit's handler reports entry and exit through
// sigkit_test_handler_enter/exit (SIGKIT_TEST_HANDLER_HOOKS). So every test
// in the suite doubles as a proof that the handler path never allocates,
// locks or touches stdio.
#include <dlfcn.h>
#include <pthread.h>
#include <unistd.h>

#include <cstdarg>
#include <cstddef>
#include <cstdio>
#include <cstdlib>

extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void __libc_free(void*);
void* __libc_memalign(size_t, size_t);
}

namespace {

// Initial-exec TLS in the executable: reading it takes no lock and no call.
thread_local int t_in_handler = 0;

[[noreturn]] void forbidden(const char* what) {
  static const char head[] = "\nsigkit safety interposer: ";
  static const char tail[] = " called inside a sigkit signal handler\n";
  (void)!::write(2, head, sizeof head - 1);
  size_t n = 0;
  while (what[n] != '\0') ++n;
  (void)!::write(2, what, n);
  (void)!::write(2, tail, sizeof tail - 1);
  ::abort();
}

inline void check(const char* what) {
  if (t_in_handler > 0) forbidden(what);
}

// Resolves the next definition of `name` once. A plain static pointer (no
// guard variable: __cxa_guard_acquire is itself interposed below). Only ever
// resolved outside handlers, since calls inside handlers abort first.
#define SIGKIT_REAL(type, name)                                               \
  ([]() -> type {                                                             \
    static type fn = nullptr;                                                 \
    if (fn == nullptr) fn = reinterpret_cast<type>(::dlsym(RTLD_NEXT, name)); \
    return fn;                                                                \
  }())

using lock_fn = int (*)(pthread_mutex_t*);
using rw_fn = int (*)(pthread_rwlock_t*);
using guard_fn = int (*)(long long*);
using vfprintf_fn = int (*)(FILE*, const char*, va_list);
using fwrite_fn = size_t (*)(const void*, size_t, size_t, FILE*);
using fputs_fn = int (*)(const char*, FILE*);
using fputc_fn = int (*)(int, FILE*);
using puts_fn = int (*)(const char*);
using fflush_fn = int (*)(FILE*);

}  // namespace

extern "C" {

void sigkit_test_handler_enter() noexcept { ++t_in_handler; }
void sigkit_test_handler_exit() noexcept { --t_in_handler; }

void* malloc(size_t n) {
  check("malloc");
  return __libc_malloc(n);
}
void* calloc(size_t a, size_t b) {
  check("calloc");
  return __libc_calloc(a, b);
}
void* realloc(void* p, size_t n) {
  check("realloc");
  return __libc_realloc(p, n);
}
void free(void* p) {
  check("free");
  __libc_free(p);
}
void* aligned_alloc(size_t a, size_t n) {
  check("aligned_alloc");
  return __libc_memalign(a, n);
}
int posix_memalign(void** out, size_t a, size_t n) {
  check("posix_memalign");
  void* p = __libc_memalign(a, n);
  if (p == nullptr) return 12;  // ENOMEM
  *out = p;
  return 0;
}
void* memalign(size_t a, size_t n) {
  check("memalign");
  return __libc_memalign(a, n);
}

int pthread_mutex_lock(pthread_mutex_t* m) {
  check("pthread_mutex_lock");
  return SIGKIT_REAL(lock_fn, "pthread_mutex_lock")(m);
}
int pthread_mutex_trylock(pthread_mutex_t* m) {
  check("pthread_mutex_trylock");
  return SIGKIT_REAL(lock_fn, "pthread_mutex_trylock")(m);
}
int pthread_rwlock_rdlock(pthread_rwlock_t* l) {
  check("pthread_rwlock_rdlock");
  return SIGKIT_REAL(rw_fn, "pthread_rwlock_rdlock")(l);
}
int pthread_rwlock_wrlock(pthread_rwlock_t* l) {
  check("pthread_rwlock_wrlock");
  return SIGKIT_REAL(rw_fn, "pthread_rwlock_wrlock")(l);
}
int __cxa_guard_acquire(long long* g) {
  check("__cxa_guard_acquire (a function-local static's first use)");
  return SIGKIT_REAL(guard_fn, "__cxa_guard_acquire")(g);
}

int vfprintf(FILE* f, const char* fmt, va_list ap) {
  check("vfprintf");
  return SIGKIT_REAL(vfprintf_fn, "vfprintf")(f, fmt, ap);
}
int fprintf(FILE* f, const char* fmt, ...) {
  check("fprintf");
  va_list ap;
  va_start(ap, fmt);
  const int r = SIGKIT_REAL(vfprintf_fn, "vfprintf")(f, fmt, ap);
  va_end(ap);
  return r;
}
int printf(const char* fmt, ...) {
  check("printf");
  va_list ap;
  va_start(ap, fmt);
  const int r = SIGKIT_REAL(vfprintf_fn, "vfprintf")(stdout, fmt, ap);
  va_end(ap);
  return r;
}
size_t fwrite(const void* p, size_t a, size_t b, FILE* f) {
  check("fwrite");
  return SIGKIT_REAL(fwrite_fn, "fwrite")(p, a, b, f);
}
int fputs(const char* s, FILE* f) {
  check("fputs");
  return SIGKIT_REAL(fputs_fn, "fputs")(s, f);
}
int fputc(int c, FILE* f) {
  check("fputc");
  return SIGKIT_REAL(fputc_fn, "fputc")(c, f);
}
int puts(const char* s) {
  check("puts");
  return SIGKIT_REAL(puts_fn, "puts")(s);
}
int fflush(FILE* f) {
  check("fflush");
  return SIGKIT_REAL(fflush_fn, "fflush")(f);
}

}  // extern "C"
