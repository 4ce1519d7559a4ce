#include "sepconv/sepconv.h"

#define SEPCONV_STR2(x) #x
#define SEPCONV_STR(x) SEPCONV_STR2(x)

namespace sepconv {

const char* version() { return SEPCONV_STR(SEPCONV_VERSION); }

const char* compiler() {
#if defined(__clang__)
  return "clang " __clang_version__;
#elif defined(__GNUC__)
  return "gcc " __VERSION__;
#else
  return "unknown";
#endif
}

}  // namespace sepconv
