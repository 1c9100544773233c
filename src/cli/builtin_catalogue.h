// The catalogue compiled into the tool (CMake option PORTHOLE_CATALOGUE);
// empty when none was given. Checked at build time: a build whose known keys
// include a revoked one fails.
#ifndef PORTHOLE_CLI_BUILTIN_CATALOGUE_H_
#define PORTHOLE_CLI_BUILTIN_CATALOGUE_H_

namespace porthole::cli {
extern const char kBuiltinCatalogue[];
extern const char kBuiltinCatalogueSource[];
}  // namespace porthole::cli

#endif  // PORTHOLE_CLI_BUILTIN_CATALOGUE_H_
