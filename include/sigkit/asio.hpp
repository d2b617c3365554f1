// sigkit/asio.hpp - optional adapter: wait for a sigkit::stream's events
// inside an Asio event loop. Not included by sigkit.hpp; include it yourself.
//
//   sigkit::stream signals{{sigkit::terminate, sigkit::hangup}};
//   sigkit::async_recv(signals, io.get_executor(),
//                      [](std::error_code ec, sigkit::event e) { ... });
//   sigkit::event e = co_await sigkit::async_recv(signals, ex, asio::use_awaitable);
//
// Standalone Asio (<asio.hpp>) by default; define SIGKIT_ASIO_BOOST to use
// Boost.Asio instead (the error_code is then boost::system::error_code).
//
// How it works: the stream's descriptor is duplicated (F_DUPFD_CLOEXEC) and
// wrapped in a posix::stream_descriptor; an operation first takes an event
// that is already there, else waits for the descriptor to become readable
// (async_wait(wait_read)) and takes one then. The descriptor can be readable
// with no event left (the stream's fd is "readable while events may be
// pending"): the operation then simply waits again. The duplicate is
// deregistered from the reactor (release()) before it is closed, so the
// stream's own descriptor is never closed or left registered.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <system_error>
#include <type_traits>
#include <utility>

#include "error.hpp"
#include "stream.hpp"

#if defined(SIGKIT_ASIO_BOOST)
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/version.hpp>
#include <boost/system/error_code.hpp>
#if BOOST_ASIO_VERSION >= 101900
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/cancellation_type.hpp>
#define SIGKIT_DETAIL_ASIO_CANCELLATION 1
#endif
#else
#include <asio/any_io_executor.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/compose.hpp>
#include <asio/error.hpp>
#include <asio/error_code.hpp>
#include <asio/execution_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/post.hpp>
#include <asio/version.hpp>
#if ASIO_VERSION >= 101900
#include <asio/cancellation_state.hpp>
#include <asio/cancellation_type.hpp>
#define SIGKIT_DETAIL_ASIO_CANCELLATION 1
#endif
#endif

namespace sigkit {
inline namespace v1 {
namespace detail {
#if defined(SIGKIT_ASIO_BOOST)
namespace net = ::boost::asio;
using net_error_code = ::boost::system::error_code;
#else
namespace net = ::asio;
using net_error_code = ::asio::error_code;
#endif

/// A std::error_code (errno values, from the stream) as the Asio's own type.
inline net_error_code to_net_error(const std::error_code& ec) noexcept {
#if defined(SIGKIT_ASIO_BOOST)
  if (ec.category() == std::generic_category()) return {ec.value(), ::boost::system::generic_category()};
  return {ec.value(), ::boost::system::system_category()};
#else
  return ec;  // asio::error_code is std::error_code
#endif
}

/// A duplicate of a stream's descriptor registered with an Asio reactor,
/// plus what an operation needs to know about its owner. Shared by the
/// owner and its pending operation, so either may go first.
template <class Executor>
struct async_source {
  async_source(sigkit::stream& s, const Executor& ex, std::error_code& ec) : descriptor(ex), source(&s) {
    ec.clear();
    const int dup = s.valid() ? ::fcntl(s.fd(), F_DUPFD_CLOEXEC, 0) : -1;
    if (dup < 0) {
      ec = s.valid() ? last_error() : std::make_error_code(std::errc::bad_file_descriptor);
      return;
    }
    net_error_code assign_error;
    descriptor.assign(dup, assign_error);
    if (assign_error) {
      ::close(dup);
      ec = std::error_code(assign_error.value(), std::generic_category());
    }
  }
  async_source(const async_source&) = delete;
  async_source& operator=(const async_source&) = delete;
  async_source(async_source&&) = delete;
  async_source& operator=(async_source&&) = delete;
  ~async_source() { close(); }

  /// Deregisters the duplicate from the reactor (pending waits complete with
  /// operation_aborted), then closes it. Never touches the stream's fd.
  void close() noexcept {
    closed = true;
    if (!descriptor.is_open()) return;
    // Deregister first, then close our duplicate: epoll keeps an entry for
    // as long as any descriptor of the file (the stream's own fd) is open.
    // Asio's close() also deregisters a descriptor it got from assign();
    // release() makes the order explicit instead of relying on that.
    const int fd = descriptor.release();
    if (fd >= 0) ::close(fd);
  }

  net::posix::basic_stream_descriptor<Executor> descriptor;
  sigkit::stream* source;
  std::uint64_t cancels = 0;  // bumped by async_stream::cancel()
  bool closed = false;        // the owner is gone
};

/// The composed operation behind every async_recv: take a pending event, or
/// wait for readability and try again. Completes with (error_code, event).
template <class Executor>
class recv_op {
 public:
  recv_op(std::shared_ptr<async_source<Executor>> src, std::error_code setup_error)
      : src_(std::move(src)), setup_error_(setup_error), cancels_at_start_(src_ ? src_->cancels : 0) {}

  template <class Self>
  void operator()(Self& self, net_error_code ec = {}) {
    switch (state_) {
      case state::start:
        state_ = state::waiting;
#if defined(SIGKIT_DETAIL_ASIO_CANCELLATION)
        // Waiting consumes nothing, so every kind of cancellation is safe.
        self.reset_cancellation_state(net::enable_total_cancellation());
#endif
        if (setup_error_) return finish_later(self, to_net_error(setup_error_), {});
        if (src_->closed) return finish_later(self, net::error::operation_aborted, {});
        return take_or_wait(self, /*first=*/true);
      case state::waiting:
        if (ec) return self.complete(ec, event{});  // operation_aborted: cancel(), release(), slot
        if (aborted(self)) return self.complete(net::error::operation_aborted, event{});
        return take_or_wait(self, /*first=*/false);
      case state::done:
        return self.complete(result_error_, result_);
    }
  }

 private:
  enum class state { start, waiting, done };

  // Takes an event if one is pending; else waits for the descriptor. The
  // first attempt runs inside the initiating function, where the handler
  // must not be called: its result is posted instead.
  template <class Self>
  void take_or_wait(Self& self, bool first) {
    std::error_code recv_error;
    std::optional<event> e = src_->source->try_recv(recv_error);
    if (recv_error || e) {
      const net_error_code error = to_net_error(recv_error);
      if (first) return finish_later(self, error, e.value_or(event{}));
      return self.complete(error, e.value_or(event{}));
    }
    src_->descriptor.async_wait(net::posix::descriptor_base::wait_read, std::move(self));
  }

  template <class Self>
  void finish_later(Self& self, net_error_code error, event e) {
    state_ = state::done;
    result_error_ = error;
    result_ = e;
    net::post(std::move(self));
  }

  template <class Self>
  bool aborted(Self& self) const {
    if (src_->closed || src_->cancels != cancels_at_start_) return true;
#if defined(SIGKIT_DETAIL_ASIO_CANCELLATION)
    if (self.get_cancellation_state().cancelled() != net::cancellation_type::none) return true;
#else
    (void)self;
#endif
    return false;
  }

  std::shared_ptr<async_source<Executor>> src_;
  std::error_code setup_error_;
  std::uint64_t cancels_at_start_;
  state state_ = state::start;
  net_error_code result_error_;
  event result_{};
};

template <class Executor, class CompletionToken>
auto start_recv(std::shared_ptr<async_source<Executor>> src, std::error_code setup_error, const Executor& ex,
                CompletionToken&& token) {
  return net::async_compose<CompletionToken, void(net_error_code, event)>(
      recv_op<Executor>(std::move(src), setup_error), token, ex);
}

}  // namespace detail

/// The error_code type of the completion signature: asio::error_code
/// (std::error_code) or, with SIGKIT_ASIO_BOOST, boost::system::error_code.
using asio_error_code = detail::net_error_code;

/// Waits asynchronously for the next event of `s` on `ex`'s execution
/// context. Completion signature: void(asio_error_code, sigkit::event).
/// Works with any completion token: a callback, asio::use_awaitable,
/// asio::use_future, asio::deferred...
///
/// Each call duplicates s.fd() for the duration of the wait. Cancel it with
/// a bound cancellation slot (asio::bind_cancellation_slot; Asio >= 1.19,
/// Boost >= 1.77): the operation completes with operation_aborted and no
/// event is lost. For repeated waits and cancel(), use async_stream.
/// Errors: bad_file_descriptor if `s` is empty; operation_not_permitted if
/// `s` was made by the parent of this forked process (see stream).
/// `s` must outlive the operation; one operation per stream at a time.
template <class Executor, class CompletionToken,
          std::enable_if_t<!std::is_convertible_v<Executor&, detail::net::execution_context&>, int> = 0>
auto async_recv(sigkit::stream& s, const Executor& ex, CompletionToken&& token) {
  std::error_code ec;
  auto src = std::make_shared<detail::async_source<Executor>>(s, ex, ec);
  return detail::start_recv(std::move(src), ec, ex, std::forward<CompletionToken>(token));
}

/// As above, on an execution context (an io_context) instead of an executor.
template <class ExecutionContext, class CompletionToken,
          std::enable_if_t<std::is_convertible_v<ExecutionContext&, detail::net::execution_context&>, int> = 0>
auto async_recv(sigkit::stream& s, ExecutionContext& context, CompletionToken&& token) {
  return async_recv(s, context.get_executor(), std::forward<CompletionToken>(token));
}

/// A stream bound to an Asio executor, for a loop of waits that can be
/// cancelled: holds one duplicate of the stream's descriptor for its whole
/// life. Neither copyable nor movable; the stream must outlive it.
/// Like Asio's own I/O objects, it is not thread-safe: call it from one
/// thread or strand at a time.
template <class Executor = detail::net::any_io_executor>
class basic_async_stream {
 public:
  using executor_type = Executor;

  /// Binds `s` to `ex`. Throws std::system_error if the descriptor cannot
  /// be duplicated (EMFILE...) or registered; bad_file_descriptor if `s` is
  /// empty.
  basic_async_stream(sigkit::stream& s, const executor_type& ex) {
    std::error_code ec;
    src_ = std::make_shared<detail::async_source<Executor>>(s, ex, ec);
    detail::throw_if(ec, "async_stream: cannot register the stream's descriptor with Asio");
  }

  /// Binds `s` to `context`'s executor.
  template <class ExecutionContext,
            std::enable_if_t<std::is_convertible_v<ExecutionContext&, detail::net::execution_context&>, int> = 0>
  basic_async_stream(sigkit::stream& s, ExecutionContext& context)
      : basic_async_stream(s, executor_type(context.get_executor())) {}

  basic_async_stream(const basic_async_stream&) = delete;
  basic_async_stream& operator=(const basic_async_stream&) = delete;
  basic_async_stream(basic_async_stream&&) = delete;
  basic_async_stream& operator=(basic_async_stream&&) = delete;

  /// A pending async_recv completes with operation_aborted. The stream and
  /// its descriptor are untouched.
  ~basic_async_stream() { src_->close(); }

  /// The executor the operations run on.
  executor_type get_executor() const noexcept { return src_->descriptor.get_executor(); }

  /// The stream this object reads.
  sigkit::stream& stream() const noexcept { return *src_->source; }

  /// Waits asynchronously for the next event, as sigkit::async_recv does.
  template <class CompletionToken>
  auto async_recv(CompletionToken&& token) {
    return detail::start_recv(src_, std::error_code{}, get_executor(), std::forward<CompletionToken>(token));
  }

  /// Makes the pending async_recv complete with operation_aborted (unless it
  /// has already taken an event: then it completes with that event, so none
  /// is lost). Later calls to async_recv wait normally.
  void cancel() {
    ++src_->cancels;
    detail::net_error_code ignored;
    src_->descriptor.cancel(ignored);
  }

 private:
  std::shared_ptr<detail::async_source<Executor>> src_;
};

/// basic_async_stream on Asio's polymorphic executor.
using async_stream = basic_async_stream<>;

}  // namespace v1
}  // namespace sigkit
