// Character classes of the C locale, whatever the process's locale is:
// parsers of untrusted text decide with these, never with <cctype>.

#ifndef PORTHOLE_CORE_BASE_ASCII_H_
#define PORTHOLE_CORE_BASE_ASCII_H_

namespace porthole::ascii {

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline bool IsAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
inline bool IsHexDigit(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

}  // namespace porthole::ascii

#endif  // PORTHOLE_CORE_BASE_ASCII_H_
