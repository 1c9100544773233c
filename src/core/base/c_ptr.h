// Owning pointers for objects of C libraries (OpenSSL, libssh): CPtr<T, F>
// is a std::unique_ptr<T> that releases with F(p).

#ifndef PORTHOLE_CORE_BASE_C_PTR_H_
#define PORTHOLE_CORE_BASE_C_PTR_H_

#include <memory>

namespace porthole {

template <auto Free>
struct FreeWith {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};

template <typename T, auto Free>
using CPtr = std::unique_ptr<T, FreeWith<Free>>;

}  // namespace porthole

#endif  // PORTHOLE_CORE_BASE_C_PTR_H_
