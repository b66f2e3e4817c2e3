// Containers that cost one pointer while empty, for per-client state that is usually empty:
// an idle broker holds one of these per connection or session, so their empty size is the
// broker's memory per idle client.
//
//   Boxed<T>:     an optional T on the heap (std::optional<T> stores T inline: a will
//                 message with its MQTT 5 properties is ~1 KB even when absent).
//   LazyDeque<T>: a std::deque<T> allocated on first insert (libstdc++'s deque allocates
//                 ~600 bytes when merely constructed).
// Thread-compatible value types.
#ifndef SLUICE_BASE_BOXED_H_
#define SLUICE_BASE_BOXED_H_

#include <deque>
#include <memory>
#include <optional>
#include <utility>

namespace sluice {

template <typename T>
class Boxed {
 public:
  Boxed() = default;
  Boxed(Boxed&&) noexcept = default;
  Boxed& operator=(Boxed&&) noexcept = default;
  Boxed& operator=(std::optional<T>&& value) {
    if (value) {
      p_ = std::make_unique<T>(std::move(*value));
    } else {
      p_.reset();
    }
    return *this;
  }
  Boxed& operator=(T&& value) {
    p_ = std::make_unique<T>(std::move(value));
    return *this;
  }
  // The value, default-constructed first if absent.
  T& GetOrCreate() {
    if (!p_) p_ = std::make_unique<T>();
    return *p_;
  }
  bool has_value() const { return p_ != nullptr; }
  explicit operator bool() const { return has_value(); }
  T& operator*() { return *p_; }
  const T& operator*() const { return *p_; }
  T* operator->() { return p_.get(); }
  const T* operator->() const { return p_.get(); }
  void reset() { p_.reset(); }

 private:
  std::unique_ptr<T> p_;
};

template <typename T>
class LazyDeque {
 public:
  using Deque = std::deque<T>;
  using iterator = typename Deque::iterator;
  using const_iterator = typename Deque::const_iterator;

  bool empty() const { return !d_ || d_->empty(); }
  size_t size() const { return d_ ? d_->size() : 0; }
  void push_back(T value) { Get().push_back(std::move(value)); }
  T& front() { return d_->front(); }
  // Frees the storage when the last element leaves.
  void pop_front() {
    d_->pop_front();
    if (d_->empty()) d_.reset();
  }
  // Iterating or searching an empty LazyDeque allocates nothing: it yields the iterators of
  // a shared empty deque, which are never dereferenced or erased.
  iterator begin() { return d_ ? d_->begin() : EmptyMutable().begin(); }
  iterator end() { return d_ ? d_->end() : EmptyMutable().end(); }
  const_iterator begin() const { return d_ ? d_->cbegin() : Empty().cbegin(); }
  const_iterator end() const { return d_ ? d_->cend() : Empty().cend(); }
  // Frees the storage when the last element leaves.
  iterator erase(iterator it) {
    auto next = d_->erase(it);
    if (d_->empty()) {
      d_.reset();
      return EmptyMutable().end();
    }
    return next;
  }
  void ShrinkIfEmpty() {
    if (d_ && d_->empty()) d_.reset();
  }

 private:
  Deque& Get() {
    if (!d_) d_ = std::make_unique<Deque>();
    return *d_;
  }
  static Deque& EmptyMutable() {
    static Deque empty;
    return empty;
  }
  static const Deque& Empty() {
    static const Deque empty;
    return empty;
  }
  std::unique_ptr<Deque> d_;
};

}  // namespace sluice

#endif  // SLUICE_BASE_BOXED_H_
