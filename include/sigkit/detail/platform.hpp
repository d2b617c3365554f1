// sigkit/detail/platform.hpp - every platform decision sigkit makes, in one
// place.
//
// The rest of sigkit tests the SIGKIT_HAVE_* macros (and the few constants)
// defined here, never the operating system. A port to a POSIX system
// without eventfd, signalfd, pidfds or a Linux /proc changes this file and
// nothing else: with a feature's macro at 0, the portable path is compiled
// instead (a self-pipe, sigkit's handler, waitpid-style waits and kill(),
// ENOTSUP from inspect()).
//
// Opt-outs a user (or a test build) may define, so that the portable paths
// are built and tested on Linux too:
//   SIGKIT_NO_EVENTFD    wakeups use a self-pipe (SIGKIT_FORCE_SELF_PIPE,
//                        its name in 0.1, is still accepted)
//   SIGKIT_NO_PIDFD      children are waited for by pid and signalled with
//                        kill()
//   SIGKIT_NO_SIGNALFD   kernel-queue streams (stream_options::queue)
//                        refuse with errc::not_supported
//   SIGKIT_NO_PROC       the /proc readers (inspect.hpp) fail with ENOTSUP
//   SIGKIT_NO_SIGTIMEDWAIT  forward_options::dequeue_directly takes
//                        nothing straight from the kernel: every signal
//                        goes through the handler
//
// Decisions (each 1 or 0):
//   SIGKIT_HAVE_EVENTFD   eventfd(2) for wakeups
//   SIGKIT_HAVE_PIPE2     pipe2(2) (else pipe() and two fcntl() calls)
//   SIGKIT_HAVE_PIDFD     pidfd_open, pidfd_send_signal, waitid(P_PIDFD); a
//                         kernel without them (ENOSYS) is handled at run
//                         time: the child is then owned by pid
//   SIGKIT_HAVE_SIGNALFD  signalfd(2)
//   SIGKIT_HAVE_PROC      the Linux /proc layout (/proc/PID/status, task/)
//   SIGKIT_HAVE_SIGTIMEDWAIT  sigtimedwait(2) and rt_tgsigqueueinfo(2),
//                         for the forwarder's thread with dequeue_directly
//   SIGKIT_HAVE_PRCTL     prctl(PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER)
//   SIGKIT_HAVE_RAW_SIGACTION  the kernel's rt_sigaction with the common
//                         struct layout (handler, flags, restorer, mask:
//                         x86, Arm), to set the real-time signals the C
//                         library reserves, which its sigaction() refuses
// and the values SIGKIT_KERNEL_RTMIN (the first real-time signal the kernel
// has; the C library may reserve some above it),
// SIGKIT_LIBC_RESTORER_FLAG (the sa_flags bit the C library adds to every
// sigaction() call, 0 if none) and SIGKIT_COARSE_CLOCK (a monotonic clock
// for clock_gettime() that is cheap to read and may lag by a tick:
// CLOCK_MONOTONIC_COARSE on Linux, which reads no hardware counter;
// CLOCK_MONOTONIC elsewhere).
#pragma once

#include <signal.h>
#include <time.h>

#if defined(SIGKIT_FORCE_SELF_PIPE) && !defined(SIGKIT_NO_EVENTFD)
#define SIGKIT_NO_EVENTFD 1
#endif

#if defined(__linux__)
#include <sys/syscall.h>

#if !defined(SIGKIT_NO_EVENTFD)
#define SIGKIT_HAVE_EVENTFD 1
#endif
#define SIGKIT_HAVE_PIPE2 1
#if defined(SYS_pidfd_open) && defined(SYS_pidfd_send_signal) && !defined(SIGKIT_NO_PIDFD)
#define SIGKIT_HAVE_PIDFD 1
#define SIGKIT_P_PIDFD 3  // waitid()'s idtype_t for a pidfd (Linux 5.4): P_PIDFD, which older C libraries lack
#endif
#if !defined(SIGKIT_NO_SIGNALFD)
#define SIGKIT_HAVE_SIGNALFD 1
#endif
#if !defined(SIGKIT_NO_PROC)
#define SIGKIT_HAVE_PROC 1
#endif
#if !defined(SIGKIT_NO_SIGTIMEDWAIT)
#define SIGKIT_HAVE_SIGTIMEDWAIT 1
#endif
#define SIGKIT_HAVE_PRCTL 1
#if defined(SYS_rt_sigaction) && (defined(__x86_64__) || defined(__i386__) || defined(__aarch64__) || defined(__arm__))
#define SIGKIT_HAVE_RAW_SIGACTION 1
#endif
#define SIGKIT_LIBC_RESTORER_FLAG 0x04000000  // SA_RESTORER: glibc's and musl's signal-return trampoline
#define SIGKIT_COARSE_CLOCK CLOCK_MONOTONIC_COARSE

#elif defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__)
#define SIGKIT_HAVE_PIPE2 1
#endif

// Whatever was not decided above is absent.
#ifndef SIGKIT_HAVE_EVENTFD
#define SIGKIT_HAVE_EVENTFD 0
#endif
#ifndef SIGKIT_HAVE_PIPE2
#define SIGKIT_HAVE_PIPE2 0
#endif
#ifndef SIGKIT_HAVE_PIDFD
#define SIGKIT_HAVE_PIDFD 0
#endif
#ifndef SIGKIT_HAVE_SIGNALFD
#define SIGKIT_HAVE_SIGNALFD 0
#endif
#ifndef SIGKIT_HAVE_PROC
#define SIGKIT_HAVE_PROC 0
#endif
#ifndef SIGKIT_HAVE_SIGTIMEDWAIT
#define SIGKIT_HAVE_SIGTIMEDWAIT 0
#endif
#ifndef SIGKIT_HAVE_PRCTL
#define SIGKIT_HAVE_PRCTL 0
#endif
#ifndef SIGKIT_HAVE_RAW_SIGACTION
#define SIGKIT_HAVE_RAW_SIGACTION 0
#endif
#ifndef SIGKIT_LIBC_RESTORER_FLAG
#define SIGKIT_LIBC_RESTORER_FLAG 0
#endif
#ifndef SIGKIT_COARSE_CLOCK
#define SIGKIT_COARSE_CLOCK CLOCK_MONOTONIC
#endif

// The kernel's first real-time signal: glibc names it __SIGRTMIN (it keeps
// a few above it for itself, so SIGRTMIN, a function call there, is
// larger); Linux's is 32 under any C library. Without real-time signals,
// NSIG (none).
#if defined(__SIGRTMIN)
#define SIGKIT_KERNEL_RTMIN __SIGRTMIN
#elif defined(SIGRTMIN) && defined(__linux__)
#define SIGKIT_KERNEL_RTMIN 32
#else
#define SIGKIT_KERNEL_RTMIN NSIG
#endif
