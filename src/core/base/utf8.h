// UTF-8 well-formedness, shared by every parser that must refuse bad text.
#ifndef PORTHOLE_CORE_BASE_UTF8_H_
#define PORTHOLE_CORE_BASE_UTF8_H_

#include <string_view>

namespace porthole {

// True if `bytes` is well-formed UTF-8: no overlong forms, surrogates or code
// points above U+10FFFF.
bool IsValidUtf8(std::string_view bytes);

}  // namespace porthole

#endif  // PORTHOLE_CORE_BASE_UTF8_H_
