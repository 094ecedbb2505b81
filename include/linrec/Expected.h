// A value or an error message: how linrec libraries report failure without exceptions or exit().
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace linrec {

/// An error with a human-readable message (what went wrong, where, and how to fix it).
struct Error {
  std::string message;
};

/// Holds either a T or an Error. Check `ok()` (or `operator bool`) before `value()`.
template <class T>
class Expected {
 public:
  Expected(T v) : v_(std::move(v)) {}              // NOLINT(google-explicit-constructor)
  Expected(Error e) : v_(std::move(e)) {}          // NOLINT(google-explicit-constructor)
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const std::string& error() const { return std::get<1>(v_).message; }

 private:
  std::variant<T, Error> v_;
};

/// Success or an error, for operations without a result.
class Status {
 public:
  Status() = default;
  Status(Error e) : err_(std::move(e.message)), failed_(true) {}  // NOLINT(google-explicit-constructor)
  static Status success() { return {}; }
  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const std::string& error() const { return err_; }

 private:
  std::string err_;
  bool failed_ = false;
};

}  // namespace linrec
