// SPDX-License-Identifier: Apache-2.0
// Freezes the ABI v1.0 layout on x86_64. A field moved, retyped or inserted
// in the middle of a struct changes an offset here and fails the build: new
// fields go at the end, with a minor bump.
#include <gtest/gtest.h>

#include <rampart/sdk/abi.h>

#define FROZEN(type, field, offset) \
  static_assert(offsetof(type, field) == (offset), #type "." #field " moved: ABI break")

FROZEN(rampart_plugin_descriptor, struct_size, 0);
FROZEN(rampart_plugin_descriptor, abi_major, 4);
FROZEN(rampart_plugin_descriptor, abi_minor, 6);
FROZEN(rampart_plugin_descriptor, kind, 8);
FROZEN(rampart_plugin_descriptor, id, 16);
FROZEN(rampart_plugin_descriptor, name, 24);
FROZEN(rampart_plugin_descriptor, version, 32);
FROZEN(rampart_plugin_descriptor, license, 40);
FROZEN(rampart_plugin_descriptor, description, 48);
FROZEN(rampart_plugin_descriptor, api, 56);

FROZEN(rampart_plugin_api, struct_size, 0);
FROZEN(rampart_plugin_api, last_error, 8);
FROZEN(rampart_plugin_api, create, 16);
FROZEN(rampart_plugin_api, start, 24);
FROZEN(rampart_plugin_api, validate, 32);
FROZEN(rampart_plugin_api, reload, 40);
FROZEN(rampart_plugin_api, stop, 48);
FROZEN(rampart_plugin_api, destroy, 56);
FROZEN(rampart_plugin_api, on_event, 64);
FROZEN(rampart_plugin_api, send_alert, 72);

FROZEN(rampart_host_api, struct_size, 0);
FROZEN(rampart_host_api, abi_major, 4);
FROZEN(rampart_host_api, abi_minor, 6);
FROZEN(rampart_host_api, ctx, 8);
FROZEN(rampart_host_api, plugin_id, 16);
FROZEN(rampart_host_api, last_error, 24);
FROZEN(rampart_host_api, log, 32);
FROZEN(rampart_host_api, config_type, 40);
FROZEN(rampart_host_api, config_get_string, 48);
FROZEN(rampart_host_api, config_get_int, 56);
FROZEN(rampart_host_api, config_get_double, 64);
FROZEN(rampart_host_api, config_get_bool, 72);
FROZEN(rampart_host_api, config_size, 80);
FROZEN(rampart_host_api, config_key_at, 88);
FROZEN(rampart_host_api, config_check_keys, 96);
FROZEN(rampart_host_api, metric_create, 104);
FROZEN(rampart_host_api, metric_add, 112);
FROZEN(rampart_host_api, metric_set, 120);
FROZEN(rampart_host_api, metric_observe, 128);
FROZEN(rampart_host_api, timer_start, 136);
FROZEN(rampart_host_api, timer_cancel, 144);
FROZEN(rampart_host_api, subscribe, 152);
FROZEN(rampart_host_api, unsubscribe, 160);
FROZEN(rampart_host_api, alert_emit, 168);
// ABI 1.1
FROZEN(rampart_host_api, config_location, 176);
FROZEN(rampart_host_api, program_install, 184);
FROZEN(rampart_host_api, program_release, 192);
FROZEN(rampart_host_api, program_counter, 200);
FROZEN(rampart_host_api, map_open, 208);
FROZEN(rampart_host_api, map_lookup, 216);
FROZEN(rampart_host_api, map_update, 224);
FROZEN(rampart_host_api, map_delete, 232);
FROZEN(rampart_host_api, map_update_batch, 240);
FROZEN(rampart_host_api, rules_claim, 248);
FROZEN(rampart_host_api, rules_list, 256);
FROZEN(rampart_host_api, rules_change, 264);
FROZEN(rampart_host_api, datapath_ready, 272);
// ABI 1.2
FROZEN(rampart_host_api, metrics_render, 280);
FROZEN(rampart_host_api, domain_describe, 288);
FROZEN(rampart_host_api, api_call, 296);
FROZEN(rampart_plugin_api, domain_status, 88);
// ABI 1.3
FROZEN(rampart_host_api, name_publish, 304);
FROZEN(rampart_host_api, reputation_publish, 312);
FROZEN(rampart_plugin_api, stream_alert, 96);
FROZEN(rampart_alert, mitre_technique_id, 128);
FROZEN(rampart_alert, mitre_technique_name, 144);
FROZEN(rampart_alert, mitre_tactic, 160);
FROZEN(rampart_alert, suppressed, 176);
FROZEN(rampart_alert, src_info, 184);
FROZEN(rampart_alert, dst_info, 192);
// ABI 1.12
FROZEN(rampart_alert, signature_id, 200);
FROZEN(rampart_alert, signature_rev, 204);
FROZEN(rampart_alert, signature, 208);
FROZEN(rampart_alert, category, 224);
FROZEN(rampart_alert, flow_id, 240);
FROZEN(rampart_alert, app_proto, 248);
FROZEN(rampart_alert, match_buffer, 264);
FROZEN(rampart_alert, match_offset, 280);
FROZEN(rampart_alert, reserved3, 284);
FROZEN(rampart_alert, match_excerpt, 288);
FROZEN(rampart_alert, context_json, 304);
static_assert(sizeof(rampart_alert) == 320);
FROZEN(rampart_alert_enrichment, struct_size, 0);
FROZEN(rampart_alert_enrichment, asn, 4);
FROZEN(rampart_alert_enrichment, country, 8);
FROZEN(rampart_alert_enrichment, city, 24);
FROZEN(rampart_alert_enrichment, as_org, 40);
FROZEN(rampart_alert_enrichment, name, 56);
FROZEN(rampart_alert_enrichment, reputation, 72);
FROZEN(rampart_domain_desc, name, 8);
FROZEN(rampart_domain_desc, schema, 24);
FROZEN(rampart_api_request, method, 8);
FROZEN(rampart_api_request, body, 32);
FROZEN(rampart_api_request, actor, 48);
FROZEN(rampart_api_request, credential, 56);
FROZEN(rampart_api_response, status, 4);
// ABI 1.4
FROZEN(rampart_api_request, peer_flags, 64);
FROZEN(rampart_api_request, peer_uid, 68);
FROZEN(rampart_api_request, peer_gid, 72);
FROZEN(rampart_api_request, peer_pid, 76);
FROZEN(rampart_api_identity, role, 4);
FROZEN(rampart_api_identity, name, 8);
FROZEN(rampart_host_api, api_authenticate, 320);
FROZEN(rampart_host_api, agent_ready, 328);
FROZEN(rampart_host_api, report_enforcing, 336);
FROZEN(rampart_plugin_descriptor, secret_settings, 64);
// ABI 1.5
FROZEN(rampart_host_api, timer_start2, 344);
FROZEN(rampart_host_api, map_info, 352);
FROZEN(rampart_host_api, map_lookup_percpu, 360);
FROZEN(rampart_host_api, counters_export, 368);
FROZEN(rampart_host_api, map_pop, 376);
// ABI 1.6
FROZEN(rampart_host_api, source_register, 384);
// ABI 1.7
FROZEN(rampart_host_api, program_counters, 392);
FROZEN(rampart_plugin_api, on_events, 104);
// ABI 1.8
FROZEN(rampart_plugin_api, rules_apply_changes, 112);
FROZEN(rampart_rule_delta, struct_size, 0);
FROZEN(rampart_rule_delta, kind, 4);
FROZEN(rampart_rule_delta, id, 8);
FROZEN(rampart_rule_delta, body, 16);
FROZEN(rampart_map_image, changed, 72);
FROZEN(rampart_map_image, changed_count, 80);
FROZEN(rampart_plugin_descriptor, flags, 72);
FROZEN(rampart_plugin_descriptor, reserved2, 76);
// ABI 1.9
FROZEN(rampart_host_api, grace_ticket, 400);
FROZEN(rampart_host_api, grace_passed, 408);
static_assert(RAMPART_PROGRAM_IN_PLACE == 0x2u, "RAMPART_PROGRAM_IN_PLACE's value is frozen");
// ABI 1.10
FROZEN(rampart_host_api, program_prepare, 416);
FROZEN(rampart_map_info, struct_size, 0);
FROZEN(rampart_map_info, type, 4);
FROZEN(rampart_map_info, key_size, 8);
FROZEN(rampart_map_info, value_size, 12);
FROZEN(rampart_map_info, max_entries, 16);
FROZEN(rampart_map_info, ncpus, 20);
FROZEN(rampart_map_info, percpu, 24);
FROZEN(rampart_api_response, body, 8);
FROZEN(rampart_plugin_api, rules_apply, 80);
FROZEN(rampart_rule, id, 8);
FROZEN(rampart_rule, body, 16);
FROZEN(rampart_program_image, struct_size, 0);
FROZEN(rampart_program_image, slot_index, 4);
FROZEN(rampart_program_image, object, 8);
FROZEN(rampart_program_image, program, 16);
FROZEN(rampart_program_image, slot, 24);
FROZEN(rampart_program_image, settings, 32);
FROZEN(rampart_program_image, setting_count, 40);
FROZEN(rampart_program_image, maps, 48);
FROZEN(rampart_program_image, map_count, 56);
FROZEN(rampart_program_image, hook, 64);
FROZEN(rampart_program_image, priority, 68);
FROZEN(rampart_program_image, flags, 72);
FROZEN(rampart_map_image, struct_size, 0);
FROZEN(rampart_map_image, max_entries, 4);
FROZEN(rampart_map_image, value_size, 8);
FROZEN(rampart_map_image, key_size, 12);
FROZEN(rampart_map_image, name, 16);
FROZEN(rampart_map_image, dense, 24);
FROZEN(rampart_map_image, dense_len, 32);
FROZEN(rampart_map_image, keys, 40);
FROZEN(rampart_map_image, values, 48);
FROZEN(rampart_map_image, count, 56);
FROZEN(rampart_map_image, flags, 64);
FROZEN(rampart_counter_export, count, 4);
FROZEN(rampart_counter_export, map, 8);
FROZEN(rampart_counter_export, metric, 16);
FROZEN(rampart_counter_export, help, 24);
FROZEN(rampart_counter_export, labels, 32);
FROZEN(rampart_counter_export, label_count, 40);
FROZEN(rampart_counter_export, label, 48);
FROZEN(rampart_counter_export, names, 56);
FROZEN(rampart_counter_export, status, 64);
FROZEN(rampart_counter_export, first, 72);
FROZEN(rampart_counter_export, reserved, 76);

FROZEN(rampart_event, struct_size, 0);
FROZEN(rampart_event, source, 4);
FROZEN(rampart_event, type, 8);
FROZEN(rampart_event, time_ns, 16);
FROZEN(rampart_event, data, 24);
FROZEN(rampart_event, len, 32);

FROZEN(rampart_alert, struct_size, 0);
FROZEN(rampart_alert, severity, 4);
FROZEN(rampart_alert, action, 8);
FROZEN(rampart_alert, ip_family, 12);
FROZEN(rampart_alert, protocol, 13);
FROZEN(rampart_alert, vlan_id, 14);
FROZEN(rampart_alert, src_addr, 16);
FROZEN(rampart_alert, dst_addr, 32);
FROZEN(rampart_alert, src_port, 48);
FROZEN(rampart_alert, dst_port, 50);
FROZEN(rampart_alert, time_ns, 56);
FROZEN(rampart_alert, id, 64);
FROZEN(rampart_alert, component, 80);
FROZEN(rampart_alert, rule_id, 96);
FROZEN(rampart_alert, message, 112);

FROZEN(rampart_metric_desc, struct_size, 0);
FROZEN(rampart_metric_desc, type, 4);
FROZEN(rampart_metric_desc, name, 8);
FROZEN(rampart_metric_desc, help, 16);
FROZEN(rampart_metric_desc, labels, 24);
FROZEN(rampart_metric_desc, label_count, 32);
FROZEN(rampart_metric_desc, buckets, 40);
FROZEN(rampart_metric_desc, bucket_count, 48);

TEST(AbiLayout, V1SizesAreFrozen) {
  // Sizes may grow with later minors; they never shrink below v1.0.
  EXPECT_GE(sizeof(rampart_plugin_descriptor), 64u);
  EXPECT_GE(sizeof(rampart_plugin_api), 80u);
  EXPECT_GE(sizeof(rampart_host_api), 280u);
  // The end of the v1.0 host table: a 1.0 plugin reads nothing past it.
  EXPECT_EQ(RAMPART_FIELD_END(rampart_host_api, alert_emit), 176u);
  EXPECT_GE(sizeof(rampart_alert), 128u);
  EXPECT_EQ(sizeof(rampart_event), 40u);
}

TEST(AbiLayout, HasFieldHonoursStructSize) {
  rampart_alert a{};
  a.struct_size = offsetof(rampart_alert, message);
  EXPECT_TRUE(RAMPART_HAS_FIELD(&a, rampart_alert, rule_id));
  EXPECT_FALSE(RAMPART_HAS_FIELD(&a, rampart_alert, message));
  a.struct_size = sizeof(a);
  EXPECT_TRUE(RAMPART_HAS_FIELD(&a, rampart_alert, message));
}
