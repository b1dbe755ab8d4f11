/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A plugin written in C against the frozen ABI 1.0 header
 * (tests/abi/v1_0): its descriptor, function table and view of the host
 * table are 1.0's. A newer host must load it, hand it a longer host table
 * and never call what 1.0 did not have.
 */
#include <rampart/sdk/abi.h>

#include <stdio.h>
#include <string.h>

struct rampart_plugin {
  const rampart_host_api* host;
};

static struct rampart_plugin instance;

static const char* last_error(void) { return ""; }

static rampart_status create(const rampart_host_api* host, const rampart_config* cfg,
                             rampart_plugin** out) {
  (void)cfg;
  char msg[160];
  instance.host = host;
  snprintf(msg, sizeof msg,
           "v1.0 plugin: host ABI %u.%u, host table %u bytes, this plugin knows %zu",
           host->abi_major, host->abi_minor, host->struct_size, sizeof(rampart_host_api));
  host->log(host->ctx, RAMPART_LOG_INFO, msg, strlen(msg));
  *out = &instance;
  return RAMPART_OK;
}

static rampart_status start(rampart_plugin* self) {
  const char* msg = "v1.0 plugin: started";
  self->host->log(self->host->ctx, RAMPART_LOG_INFO, msg, strlen(msg));
  return RAMPART_OK;
}

static void destroy(rampart_plugin* self) { (void)self; }

static const rampart_plugin_api api = {
    .struct_size = sizeof(rampart_plugin_api),
    .last_error = last_error,
    .create = create,
    .start = start,
    .destroy = destroy,
};

static const rampart_plugin_descriptor desc = {
    .struct_size = sizeof(rampart_plugin_descriptor),
    .abi_major = RAMPART_ABI_MAJOR,
    .abi_minor = RAMPART_ABI_MINOR,
    .kind = RAMPART_KIND_ENGINE,
    .id = "abi_v1_0",
    .name = "ABI 1.0 plugin",
    .version = "1.0.0",
    .license = "Apache-2.0",
    .description = "built against the frozen 1.0 header",
    .api = &api,
};

__attribute__((visibility("default"))) const rampart_plugin_descriptor* rampart_plugin_entry(
    uint16_t major, uint16_t minor) {
  (void)major;
  (void)minor;
  return &desc;
}
