// SPDX-License-Identifier: Apache-2.0
// The one test source whose compile definitions hold this tree's absolute
// paths (tests/CMakeLists.txt, rampart_test_paths).
#include "test_paths.hpp"

namespace rampart::test::path {

#define RAMPART_TEST_PATH(name, value) \
  const std::string& name() {          \
    static const std::string p{value}; \
    return p;                          \
  }

RAMPART_TEST_PATH(rampartd, RAMPART_PATH_RAMPARTD)
RAMPART_TEST_PATH(rampartctl, RAMPART_PATH_RAMPARTCTL)
RAMPART_TEST_PATH(rampartctl_completion, RAMPART_PATH_RAMPARTCTL_COMPLETION)
RAMPART_TEST_PATH(plugins, RAMPART_PATH_PLUGINS)
RAMPART_TEST_PATH(test_plugins, RAMPART_PATH_TEST_PLUGINS)
RAMPART_TEST_PATH(example_plugins, RAMPART_PATH_EXAMPLE_PLUGINS)
RAMPART_TEST_PATH(bpf, RAMPART_PATH_BPF)
RAMPART_TEST_PATH(alert_client, RAMPART_PATH_ALERT_CLIENT)
RAMPART_TEST_PATH(asn_mmdb, RAMPART_PATH_ASN_MMDB)
RAMPART_TEST_PATH(source, RAMPART_PATH_SOURCE)
RAMPART_TEST_PATH(build, RAMPART_PATH_BUILD)
RAMPART_TEST_PATH(promtool, RAMPART_PATH_PROMTOOL)
RAMPART_TEST_PATH(swagger_cli, RAMPART_PATH_SWAGGER_CLI)
RAMPART_TEST_PATH(spectral, RAMPART_PATH_SPECTRAL)
RAMPART_TEST_PATH(geoip_data_dir, RAMPART_PATH_GEOIP_DATA)
RAMPART_TEST_PATH(et_open_dir, RAMPART_PATH_ET_OPEN)

#undef RAMPART_TEST_PATH

}  // namespace rampart::test::path
