/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rampart plugin ABI, major version 1.
 *
 * This is the whole contract between rampartd and a plugin shared object.
 * Only C types cross it: fixed-width integers, pointers to NUL-terminated or
 * (pointer, length) strings, plain structs and opaque handles.
 *
 * Compatibility rules (never break them):
 *  - Every struct that crosses starts with `uint32_t struct_size`. A struct
 *    only ever grows at its end; a field is never removed, reordered or
 *    retyped. Adding a field to the end bumps RAMPART_ABI_MINOR.
 *  - A reader uses a field only if it lies wholly inside `struct_size`
 *    (see RAMPART_HAS_FIELD); a missing optional function pointer means
 *    "not implemented".
 *  - The host loads a plugin only if the plugin's major equals the host's and
 *    the plugin's minor is not newer than the host's.
 *  - Nothing here throws. Calls that can fail return rampart_status; the text
 *    of the most recent failure on the calling thread is read with the
 *    matching last_error function.
 */
#ifndef RAMPART_SDK_ABI_H
#define RAMPART_SDK_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RAMPART_ABI_MAJOR 1
#define RAMPART_ABI_MINOR 12

/* Name of the one symbol every plugin exports. */
#define RAMPART_PLUGIN_ENTRY_SYMBOL "rampart_plugin_entry"

/* Bytes a struct must have for `field` to be present. */
#define RAMPART_FIELD_END(type, field) (offsetof(type, field) + sizeof(((type*)0)->field))

/* True when `field` of the struct at `ptr` lies inside its struct_size. */
#define RAMPART_HAS_FIELD(ptr, type, field) \
  ((ptr) != NULL && (ptr)->struct_size >= RAMPART_FIELD_END(type, field))

typedef enum rampart_status {
  RAMPART_OK = 0,
  RAMPART_ERR_INVALID_ARGUMENT = 1, /* bad input: config value, rule, argument */
  RAMPART_ERR_NOT_FOUND = 2,        /* no such key, map, timer, ... */
  RAMPART_ERR_TYPE = 3,             /* the value exists but has another type */
  RAMPART_ERR_UNSUPPORTED = 4,      /* the host or plugin does not offer this */
  RAMPART_ERR_BUSY = 5,             /* try again later (queue full, ...) */
  RAMPART_ERR_INTERNAL = 6,         /* anything else, including a caught exception */
  RAMPART_ERR_CONFLICT = 7          /* already exists (1.1) */
} rampart_status;

typedef enum rampart_plugin_kind {
  RAMPART_KIND_ENGINE = 1,  /* consumes kernel events, owns maps and rules */
  RAMPART_KIND_SENDER = 2,  /* delivers alerts (email, webhook, log) */
  RAMPART_KIND_FRONTEND = 3 /* serves an API (REST, gRPC, metrics) */
} rampart_plugin_kind;

typedef enum rampart_log_level {
  RAMPART_LOG_DEBUG = 0,
  RAMPART_LOG_INFO = 1,
  RAMPART_LOG_WARN = 2,
  RAMPART_LOG_ERROR = 3
} rampart_log_level;

/* Sources of events. The core is 0; the ids below 64 are the well-known
 * engines' (the plugin that registers the name first owns it). Since 1.6 a
 * plugin registers its sources by name (host api source_register) and gets
 * an id derived from the name alone (rampart_event_source_id): the same in
 * every run and on every host, so a kernel program kept across a restart
 * goes on stamping the right one. */
typedef enum rampart_event_source {
  RAMPART_SOURCE_CORE = 0,
  RAMPART_SOURCE_XDP_FIREWALL = 1,
  RAMPART_SOURCE_XDP_RATELIMIT = 2,
  RAMPART_SOURCE_XDP_LB = 3,
  RAMPART_SOURCE_TC_IDS = 4,
  RAMPART_SOURCE_TC_THREATINTEL = 5,
  RAMPART_SOURCE_TC_DNS = 6,
  RAMPART_SOURCE_MAX = 64,          /* well-known ids (and subscribe's) are < RAMPART_SOURCE_MAX */
  RAMPART_SOURCE_FIRST_NAMED = 1024 /* ids of other names: [1024, 2^31) */
} rampart_event_source;

/* A registered name: [a-z0-9_], 1 to 32 characters. */
#define RAMPART_SOURCE_NAME_MAX 32

/* The id source_register gives `name` when it is not a well-known one:
 * FNV-1a over the name folded into [RAMPART_SOURCE_FIRST_NAMED, 2^31).
 * (Two names with the same id cannot both be registered: the second is
 * refused with RAMPART_ERR_CONFLICT naming the first.) */
static inline uint32_t rampart_event_source_id(const char* name) {
  uint32_t h = 2166136261u;
  for (const char* p = name; *p != '\0'; ++p) {
    h ^= (uint8_t)*p;
    h *= 16777619u;
  }
  return RAMPART_SOURCE_FIRST_NAMED + h % (0x80000000u - RAMPART_SOURCE_FIRST_NAMED);
}

/* The name of a source, for metrics and logs ("source_<n>" past the known
 * ones is the caller's to make). */
static inline const char* rampart_event_source_name(uint32_t source) {
  static const char* const names[] = {"core",   "xdp_firewall",   "xdp_ratelimit", "xdp_lb",
                                      "tc_ids", "tc_threatintel", "tc_dns"};
  return source < sizeof(names) / sizeof(names[0]) ? names[source] : NULL;
}

typedef enum rampart_severity {
  RAMPART_SEVERITY_LOW = 0,
  RAMPART_SEVERITY_MEDIUM = 1,
  RAMPART_SEVERITY_HIGH = 2,
  RAMPART_SEVERITY_CRITICAL = 3
} rampart_severity;

typedef enum rampart_alert_action {
  RAMPART_ALERT_ACTION_ALERT = 0, /* observed and reported */
  RAMPART_ALERT_ACTION_BLOCK = 1  /* traffic was blocked */
} rampart_alert_action;

typedef enum rampart_config_type {
  RAMPART_CONFIG_MISSING = 0,
  RAMPART_CONFIG_NULL = 1,
  RAMPART_CONFIG_SCALAR = 2,
  RAMPART_CONFIG_SEQUENCE = 3,
  RAMPART_CONFIG_MAP = 4
} rampart_config_type;

typedef enum rampart_metric_type {
  RAMPART_METRIC_COUNTER = 0,
  RAMPART_METRIC_GAUGE = 1,
  RAMPART_METRIC_HISTOGRAM = 2
} rampart_metric_type;

/* Opaque handles. Each is owned by the side that created it. */
typedef struct rampart_plugin rampart_plugin;     /* plugin instance, owned by the plugin */
typedef struct rampart_host_ctx rampart_host_ctx; /* per-instance host context */
typedef struct rampart_config rampart_config;     /* view of the plugin's config subtree */
typedef struct rampart_metric rampart_metric;     /* one labelled time series */
typedef struct rampart_timer rampart_timer;       /* a timer on the core's event loop */
typedef struct rampart_program rampart_program;   /* an installed kernel program instance (1.1) */
typedef struct rampart_map rampart_map;           /* a shared kernel map (1.1) */

/* A string that need not be NUL-terminated. */
typedef struct rampart_str {
  const char* ptr;
  size_t len;
} rampart_str;

/* An event delivered to subscribers of its source. Valid only during the call. */
typedef struct rampart_event {
  uint32_t struct_size;
  uint32_t source; /* rampart_event_source, or a registered source's id */
  uint32_t type;   /* meaning defined by the source's layout header */
  uint32_t reserved;
  uint64_t time_ns; /* CLOCK_MONOTONIC when the event was produced */
  const void* data;
  size_t len;
} rampart_event;

/* What the core knows about one address of an alert (ABI 1.3): GeoIP
 * (from the configured MaxMind-format databases), the name passive DNS
 * saw for it, and that name's reputation. Empty strings and 0 / -1 mean
 * unknown. Filled by the host on delivery; never read on emit. */
typedef struct rampart_alert_enrichment {
  uint32_t struct_size;
  uint32_t asn;        /* autonomous system number */
  rampart_str country; /* ISO 3166-1 alpha-2 code */
  rampart_str city;
  rampart_str as_org; /* the AS's organisation */
  rampart_str name;   /* reverse lookup from passive DNS */
  int32_t reputation; /* of `name`: 0 (malicious) .. 100 (trusted); -1 unknown */
  uint32_t reserved;
} rampart_alert_enrichment;

/* An alert. Version 1 carries the network tuple and text; 1.3 adds the
 * MITRE ATT&CK technique (engines fill it) and what the host adds on
 * delivery: the dedup count and enrichment; 1.12 the signature, the flow
 * and the match. */
typedef struct rampart_alert {
  uint32_t struct_size;
  uint32_t severity;    /* rampart_severity */
  uint32_t action;      /* rampart_alert_action */
  uint8_t ip_family;    /* 0 (none), 4 or 6 */
  uint8_t protocol;     /* IP protocol number, 0 if none */
  uint16_t vlan_id;     /* 0 if none */
  uint8_t src_addr[16]; /* IPv4 in the first 4 bytes, network order */
  uint8_t dst_addr[16];
  uint16_t src_port; /* host order */
  uint16_t dst_port;
  uint32_t reserved;
  uint64_t time_ns;      /* CLOCK_REALTIME; 0 on emit means "now" */
  rampart_str id;        /* set by the host on delivery; ignored on emit */
  rampart_str component; /* set by the host: id of the emitting plugin */
  rampart_str rule_id;
  rampart_str message;
  /* ---- ABI 1.3 ---- */
  rampart_str mitre_technique_id;   /* "T1046"; empty if none */
  rampart_str mitre_technique_name; /* "Network Service Discovery" */
  rampart_str mitre_tactic;         /* "Discovery" */
  /* On delivery: alerts with this one's fingerprint that dedup suppressed
   * since the previous delivery; 0 on emit. */
  uint32_t suppressed;
  uint32_t reserved2;
  const rampart_alert_enrichment* src_info; /* on delivery; NULL if nothing known */
  const rampart_alert_enrichment* dst_info;
  /* ---- ABI 1.12 ---- */
  /* What a signature engine knows of the rule that fired and of the match
   * (the fields of Suricata's EVE alert SIEMs map). 0 / empty if none. */
  uint32_t signature_id;  /* the rule's number (an IDS rule's sid) */
  uint32_t signature_rev; /* its revision */
  rampart_str signature;  /* its name, the same in all its alerts (an IDS rule's msg) */
  rampart_str category;   /* its class ("attempted-admin": a classtype) */
  uint64_t flow_id;       /* the flow it is about, as the engine numbers it */
  rampart_str app_proto;  /* "http", "tls", "dns", "ssh", ... */
  /* Where the match was: the buffer ("http.uri", "payload", ...), the
   * offset in it of the bytes that matched last, and an excerpt of them
   * (raw bytes; the host keeps at most RAMPART_ALERT_EXCERPT_MAX). */
  rampart_str match_buffer;
  uint32_t match_offset;
  uint32_t reserved3;
  rampart_str match_excerpt;
  /* What the engine knows around the alert, as one JSON object of
   * EVE-style sections: "flow" {pkts_toserver, pkts_toclient,
   * bytes_toserver, bytes_toclient, start}, "http" {hostname, url,
   * http_user_agent, http_method, protocol, status, length}, "tls" {sni},
   * "dns" {...}, or the engine's own. The host keeps it if it is a JSON
   * object of at most RAMPART_ALERT_CONTEXT_MAX bytes, and drops it
   * (keeping the alert) otherwise. */
  rampart_str context_json;
} rampart_alert;

/* The most bytes of match_excerpt the host keeps (ABI 1.12). */
#define RAMPART_ALERT_EXCERPT_MAX 1024
/* The largest context_json the host keeps (ABI 1.12). */
#define RAMPART_ALERT_CONTEXT_MAX 8192

typedef struct rampart_label {
  const char* name;
  const char* value;
} rampart_label;

typedef struct rampart_metric_desc {
  uint32_t struct_size;
  uint32_t type;    /* rampart_metric_type */
  const char* name; /* must start with "rampart_"; counters end in "_total" */
  const char* help;
  const rampart_label* labels;
  size_t label_count;
  const double* buckets; /* histograms only: ascending upper bounds */
  size_t bucket_count;
} rampart_metric_desc;

typedef void (*rampart_timer_fn)(void* user);
/* ABI 1.5: a timer callback that says whether it failed. A status other
 * than RAMPART_OK (with the plugin's last_error text on this thread) is
 * counted and logged by the host like any other failed callback. */
typedef rampart_status (*rampart_timer_fn2)(void* user);

/* ABI 1.1: a stored rule: an id and its JSON body. */
typedef struct rampart_rule {
  uint32_t struct_size;
  uint32_t reserved;
  uint64_t id;
  rampart_str body;
} rampart_rule;

/* Receives rules one by one, during the call that was given it. */
typedef void (*rampart_rule_fn)(void* user, const rampart_rule* rule);

/* How rules_change treats an existing or missing id. */
typedef enum rampart_rule_change {
  RAMPART_RULE_CREATE = 1, /* CONFLICT if the id exists */
  RAMPART_RULE_UPDATE = 2, /* NOT_FOUND if it does not */
  RAMPART_RULE_DELETE = 3  /* NOT_FOUND if it does not */
} rampart_rule_change;

/* ABI 1.8: one change to a domain's rule set (rules_apply_changes). */
typedef struct rampart_rule_delta {
  uint32_t struct_size;
  uint32_t kind; /* rampart_rule_change */
  uint64_t id;
  rampart_str body; /* the rule's new JSON body; empty for RAMPART_RULE_DELETE */
} rampart_rule_delta;

/* ABI 1.5: what map_info says of a map. */
typedef struct rampart_map_info {
  uint32_t struct_size; /* set by the caller; the host fills what fits */
  uint32_t type;        /* the kernel's enum bpf_map_type */
  uint32_t key_size;
  uint32_t value_size; /* of one CPU's value, for per-CPU maps */
  uint32_t max_entries;
  uint32_t ncpus;  /* values map_lookup_percpu returns: possible CPUs, or 1 */
  uint32_t percpu; /* 1: a value per CPU */
} rampart_map_info;

/* ABI 1.5: kernel counters a plugin exports as metrics (counters_export).
 * ABI 1.11: from any entry (`first`), so one map holds the counters of
 * many exports (one per policy, say); count 0 withdraws the export of the
 * same metric and status key.
 * ABI 1.12 hosts: an empty name ("") skips its entry, so one map's
 * counters split into several families (each export its own metric, the
 * same status key: GET /api/v1/ebpf shows them together); an empty
 * `label` exports a family of one series (exactly one non-empty name),
 * with the constant labels only. */
typedef struct rampart_counter_export {
  uint32_t struct_size;
  uint32_t count;     /* entries 0..count-1, named by names[] */
  const char* map;    /* one of the plugin's persistent u64 array maps */
  const char* metric; /* counter family, "rampart_..._total" */
  const char* help;
  const rampart_label* labels; /* constant labels of every sample */
  size_t label_count;
  const char* label;        /* the label whose value names each entry */
  const char* const* names; /* count names */
  const char* status;       /* key of the entries in GET /api/v1/ebpf "counters" */
  /* ---- ABI 1.11 ---- */
  uint32_t first;    /* the entry names[0] names: entries first..first+count-1 */
  uint32_t reserved; /* zero */
} rampart_counter_export;

/* ABI 1.1: the contents of one map of a program instance. */
typedef struct rampart_map_image {
  uint32_t struct_size;
  uint32_t max_entries; /* 0: as declared in the object */
  uint32_t value_size;  /* 0: as declared */
  uint32_t key_size;    /* of `keys`; required when count > 0 */
  const char* name;
  const void* dense; /* array maps: the values of keys 0..n-1, back to back */
  size_t dense_len;  /* bytes */
  const void* keys;  /* explicit entries: count keys and count values; a keyless map
                        (queue, stack, Bloom filter): key_size 0, keys NULL, the values
                        pushed in order (1.5) */
  const void* values;
  size_t count;
  /* ---- ABI 1.5 ---- */
  uint32_t flags; /* RAMPART_MAP_* */
  uint32_t reserved;
  /* ---- ABI 1.8 ---- */
  /* With RAMPART_MAP_CHANGES_LISTED: changed_count (offset, length) pairs,
   * in bytes of the map's values laid end to end (entry i at i *
   * value_size), covering every byte that may differ from this map in the
   * last image of the same slot that program_install accepted (zeros past
   * `dense` included); none: the map is as it was. The host then compares
   * and writes only there when it refills a spare instead of comparing
   * the whole table, which makes a one-entry change to a table of
   * megabytes cost what it touches. Only for maps the program itself never
   * writes. A keyed map with changes listed and none changed is left as
   * it is; with any, refilled whole. */
  const uint64_t* changed;
  size_t changed_count;
} rampart_map_image;

/* ABI 1.5: a map of the plugin's own rather than of one program instance:
 * created by the first instance that declares it, pinned under the pin
 * root's plugins/<plugin id>/, reused by every later instance of any of
 * the plugin's objects that declares a map of that name (the same type and
 * sizes), and adopted again after a restart. Counters, connection tables,
 * rate buckets and ring buffers are persistent; per-rule-set tables are
 * not. A ring buffer among them is drained by the host and its records
 * delivered to this plugin's on_event alone. dense/keys contents are
 * written only when the map is created. */
#define RAMPART_MAP_PERSISTENT 0x1u
/* ABI 1.8: `changed` lists what differs from the slot's last image. */
#define RAMPART_MAP_CHANGES_LISTED 0x2u

/* ABI 1.1: a `const volatile` setting of a program instance. */
typedef struct rampart_setting {
  const char* name;
  const void* value;
  size_t len;
} rampart_setting;

/* ABI 1.1: one program loaded from a kernel object with its own maps
 * sized and filled, installed in prog array `slot` at `slot_index` in a
 * single atomic write (every packet sees the old instance or the new one). */
typedef struct rampart_program_image {
  uint32_t struct_size;
  uint32_t slot_index;
  const char* object;  /* "xdp_firewall": xdp_firewall.bpf.o beside the plugin's .so, else in
                          agent.bpf_dir */
  const char* program; /* e.g. "xdp_firewall" */
  const char* slot;    /* the stage's name (1.5 hooks), or a prog array of the plugin's */
  const rampart_setting* settings;
  size_t setting_count;
  const rampart_map_image* maps;
  size_t map_count;
  /* ---- ABI 1.5 ---- */
  uint32_t hook;    /* rampart_program_hook */
  int32_t priority; /* a stage's place in its chain: lower runs first */
  uint32_t flags;   /* RAMPART_PROGRAM_* */
  uint32_t reserved;
} rampart_program_image;

/* ABI 1.5: where a program goes. A stage (XDP, TC ingress or TC egress)
 * joins the chain behind rampartd's root on that hook under the name in
 * `slot`, which belongs to the first plugin that installs it (another
 * plugin's claim is refused with RAMPART_ERR_CONFLICT); installing again
 * under the same name replaces the stage's program in one atomic write.
 * Stages run in priority order and continue with rampart_xdp_next /
 * rampart_tc_next (rampart/bpf/chain.h). Releasing the stage's program, or
 * the plugin stopping or being disabled, takes the stage out of the chain.
 * RAMPART_PROGRAM_SLOT (images before 1.5): `slot` names a prog array among
 * the plugin's persistent maps and the program goes at slot_index. */
typedef enum rampart_program_hook {
  RAMPART_PROGRAM_SLOT = 0,
  RAMPART_PROGRAM_XDP = 1,
  RAMPART_PROGRAM_TC_INGRESS = 2,
  RAMPART_PROGRAM_TC_EGRESS = 3
} rampart_program_hook;

/* The stage stays in the chain while rampartd restarts (so the firewall
 * filters through an upgrade), but never once its plugin is disabled or
 * gone: a restarted rampartd removes stages no running plugin installed. */
#define RAMPART_PROGRAM_KEEP_ON_EXIT 0x1u
/* ABI 1.9: the image's changes may be written into the stage's live
 * instance instead of a spare swapped in: the host does so when that
 * instance holds the image installed last and has its shape, every map's
 * changes are listed (RAMPART_MAP_CHANGES_LISTED), and grace periods are
 * available; else it installs as without the flag. In place, packets run
 * while the writes land, so the plugin must have changed only what no
 * packet reads (see rampart/firewall.h's generations), and ordered the
 * maps so: they are written in the image's order, each from its last
 * listed byte down to its first (a table's entry written after the part of
 * the table it points to), a keyed map by writing every entry of the image
 * and then deleting the keys it lacks. */
#define RAMPART_PROGRAM_IN_PLACE 0x2u

/*
 * Services the host offers a plugin instance. The table is handed to
 * create() and stays valid until destroy() returns. Every function is
 * thread-safe. Config getters take the handle passed to create/validate/
 * reload and may only be used during that call; strings they return live as
 * long as the handle.
 */
/* ---- ABI 1.2 types ---- */

/* A rule domain an engine owns, described for the API and its OpenAPI
 * document. */
typedef struct rampart_domain_desc {
  uint32_t struct_size;
  uint32_t reserved;
  const char* name;    /* [a-z][a-z0-9_]{0,31}: URL segment and store domain */
  const char* summary; /* one line */
  const char* schema;  /* JSON Schema (OpenAPI 3.0 subset) of a rule body, or NULL */
} rampart_domain_desc;

/* A management API request (see core/api/management_api.hpp for the
 * routes), as a frontend received it. */
typedef struct rampart_api_request {
  uint32_t struct_size;
  uint32_t reserved;
  const char* method; /* GET, POST, PUT, PATCH, DELETE */
  const char* path;   /* /api/v1/..., without the query */
  const char* query;  /* raw, without '?'; NULL if none */
  rampart_str body;
  const char* actor;      /* the transport's view of who, for the audit log */
  const char* credential; /* API key token the client sent, or NULL */
  /* ---- ABI 1.4 ---- */
  uint32_t peer_flags; /* RAMPART_PEER_* */
  uint32_t peer_uid;   /* with RAMPART_PEER_LOCAL */
  uint32_t peer_gid;
  int32_t peer_pid;
} rampart_api_request;

/* ---- ABI 1.4 types ---- */

/* rampart_api_request.peer_flags */
#define RAMPART_PEER_LOCAL \
  1u /* a Unix-socket peer: peer_uid/gid/pid are the kernel's (SO_PEERCRED) */
#define RAMPART_PEER_TLS 2u /* the request came over TLS */

/* What a request may do. */
typedef enum rampart_role {
  RAMPART_ROLE_NONE = 0, /* identifies nobody: only unauthenticated routes */
  RAMPART_ROLE_VIEWER = 1,
  RAMPART_ROLE_OPERATOR = 2,
  RAMPART_ROLE_ADMIN = 3
} rampart_role;

/* Who sent a request (ABI 1.4 api_authenticate). */
typedef struct rampart_api_identity {
  uint32_t struct_size;
  uint32_t role;    /* rampart_role */
  rampart_str name; /* "key:<name>", "local:uid=<uid>"; empty for nobody. Valid until this
                       thread calls api_authenticate again */
} rampart_api_identity;

typedef struct rampart_api_response {
  uint32_t struct_size;
  uint32_t status;  /* HTTP status code */
  rampart_str body; /* JSON ("" for 204); valid until this thread calls api_call again */
} rampart_api_response;

/*
 * Host services. Unless one says otherwise, any thread may call them,
 * the plugin's own included, concurrently. Only rules_change and api_call
 * reach a plugin's callbacks on the caller's thread (an owner's rules_apply
 * or domain_status), and rules_claim / rules_list call their `fn` there.
 * A rampart_config is valid only during the call it was passed to
 * (create, validate, reload); copy what is kept.
 */
typedef struct rampart_host_api {
  uint32_t struct_size;
  uint16_t abi_major;
  uint16_t abi_minor;
  rampart_host_ctx* ctx;
  const char* plugin_id;

  /* Text of the last failed host call on this thread. Never NULL. */
  const char* (*last_error)(void);

  /* Structured log line attributed to the plugin. */
  void (*log)(rampart_host_ctx* ctx, uint32_t level, const char* msg, size_t len);

  /* Config subtree. Paths are dot-separated keys and sequence indexes,
   * relative to plugins.<id>; "" is the subtree itself. Errors name the
   * config file and line. */
  uint32_t (*config_type)(const rampart_config* cfg, const char* path);
  rampart_status (*config_get_string)(const rampart_config* cfg, const char* path,
                                      rampart_str* out);
  rampart_status (*config_get_int)(const rampart_config* cfg, const char* path, int64_t* out);
  rampart_status (*config_get_double)(const rampart_config* cfg, const char* path, double* out);
  rampart_status (*config_get_bool)(const rampart_config* cfg, const char* path, int* out);
  /* Number of entries of a sequence or map. */
  rampart_status (*config_size)(const rampart_config* cfg, const char* path, size_t* out);
  /* Key of the index-th entry of a map, in file order. */
  rampart_status (*config_key_at)(const rampart_config* cfg, const char* path, size_t index,
                                  rampart_str* out);
  /* Fails naming file:line of the first key of the map at `path` not in `allowed`. */
  rampart_status (*config_check_keys)(const rampart_config* cfg, const char* path,
                                      const char* const* allowed, size_t allowed_count);

  /* Metrics, registered in the core's Prometheus registry with a constant
   * label plugin="<id>". Handles live until the instance is destroyed. */
  rampart_status (*metric_create)(rampart_host_ctx* ctx, const rampart_metric_desc* desc,
                                  rampart_metric** out);
  void (*metric_add)(rampart_metric* metric, double value);     /* counter, gauge */
  void (*metric_set)(rampart_metric* metric, double value);     /* gauge */
  void (*metric_observe)(rampart_metric* metric, double value); /* histogram */

  /* Timers on the core's event loop. fn must not block. interval_ms == 0
   * fires once. All of an instance's timers are cancelled, and running
   * callbacks finish, before stop() is called. */
  rampart_status (*timer_start)(rampart_host_ctx* ctx, uint64_t first_ms, uint64_t interval_ms,
                                rampart_timer_fn fn, void* user, rampart_timer** out);
  /* Any thread. On return the callback is not running and never runs
   * again, so `user` may be freed: a callback in progress on the loop
   * thread is waited for, unless the caller is that callback (cancelling
   * its own timer; it then must not free what it still uses before it
   * returns). Do not cancel while holding a lock the callback takes. */
  void (*timer_cancel)(rampart_host_ctx* ctx, rampart_timer* timer);

  /* Deliver events of `source` published on the core's bus to this
   * instance's on_event. Since 1.5 the kernel's records are not published
   * by source: each plugin's ring buffers (RAMPART_MAP_PERSISTENT) reach
   * that plugin alone, subscribed or not. */
  rampart_status (*subscribe)(rampart_host_ctx* ctx, uint32_t source);
  rampart_status (*unsubscribe)(rampart_host_ctx* ctx, uint32_t source);

  /* Hand an alert to the alert pipeline. The host copies it. */
  rampart_status (*alert_emit)(rampart_host_ctx* ctx, const rampart_alert* alert);

  /* ---- ABI 1.1 ---- */

  /* "file:line:col" of the config node at path (for errors a plugin finds
   * in a value it parsed itself); RAMPART_ERR_NOT_FOUND if absent. */
  rampart_status (*config_location)(const rampart_config* cfg, const char* path, rampart_str* out);

  /* Kernel programs: load and install atomically; the previous instance in
   * the slot is released once no packet uses it. The image and the memory
   * it points to are read during the call only, never kept. */
  rampart_status (*program_install)(rampart_host_ctx* ctx, const rampart_program_image* image,
                                    rampart_program** out);
  void (*program_release)(rampart_host_ctx* ctx, rampart_program* program);
  /* Sum over CPUs of entry `index` of a per-CPU u64 array map of the instance. */
  rampart_status (*program_counter)(rampart_host_ctx* ctx, rampart_program* program,
                                    const char* map, uint32_t index, uint64_t* out);

  /* Shared kernel maps by name, with key and value sizes checked. Per-CPU
   * maps are read and written as one value per possible CPU. */
  rampart_status (*map_open)(rampart_host_ctx* ctx, const char* name, uint32_t key_size,
                             uint32_t value_size, rampart_map** out);
  rampart_status (*map_lookup)(rampart_map* map, const void* key, void* value);
  rampart_status (*map_update)(rampart_map* map, const void* key, const void* value,
                               uint64_t flags);
  rampart_status (*map_delete)(rampart_map* map, const void* key);
  rampart_status (*map_update_batch)(rampart_map* map, const void* keys, const void* values,
                                     size_t count);

  /* Rule store (SQLite, audited). An engine claims the domains it owns,
   * passing the rules its config file declares: they are written to the
   * store (config rules no longer declared are removed) and the whole
   * stored set is reported through fn for the engine to apply. */
  rampart_status (*rules_claim)(rampart_host_ctx* ctx, const char* domain,
                                const rampart_rule* config_rules, size_t count, rampart_rule_fn fn,
                                void* user);
  rampart_status (*rules_list)(rampart_host_ctx* ctx, const char* domain, rampart_rule_fn fn,
                               void* user);
  /* Frontends change one rule. The domain's owner applies the resulting
   * set (rules_apply) first; only if that succeeds is the change stored,
   * with an audit entry naming `actor`. body is ignored for DELETE. */
  rampart_status (*rules_change)(rampart_host_ctx* ctx, const char* domain, uint32_t change,
                                 uint64_t id, rampart_str body, const char* actor);
  /* 1 once the kernel programs are attached to every interface. */
  int (*datapath_ready)(rampart_host_ctx* ctx);

  /* ---- ABI 1.2 ---- */

  /* Every metric (core, kernel counters, plugins) in the Prometheus text
   * exposition format 0.0.4. The text stays valid until the same thread
   * calls again. */
  rampart_status (*metrics_render)(rampart_host_ctx* ctx, rampart_str* out);
  /* An engine describes a domain it claimed (rules_claim first). */
  rampart_status (*domain_describe)(rampart_host_ctx* ctx, const rampart_domain_desc* desc);
  /* Frontends: one management API request, answered by the core. Fails
   * only for malformed arguments; API errors are statuses in `out`. */
  rampart_status (*api_call)(rampart_host_ctx* ctx, const rampart_api_request* req,
                             rampart_api_response* out);

  /* ---- ABI 1.3 ---- */

  /* Reverse lookup for alert enrichment: an engine that sees names (the
   * DNS engine, from passive DNS) publishes address -> name, kept for
   * ttl_s seconds in a bounded in-memory table the alert path reads
   * without blocking. family 4 (4 bytes) or 6 (16 bytes). */
  rampart_status (*name_publish)(rampart_host_ctx* ctx, uint8_t family, const uint8_t* addr,
                                 rampart_str name, uint32_t ttl_s);
  /* Domain reputation: a score 0 (malicious) .. 100 (trusted) for a name,
   * kept for ttl_s seconds; alerts whose addresses resolve to the name
   * carry it. */
  rampart_status (*reputation_publish)(rampart_host_ctx* ctx, rampart_str name, int32_t score,
                                       uint32_t ttl_s);

  /* ---- ABI 1.4 ---- */

  /* Frontends: who sent a request, from its credential and peer fields
   * alone (method, path and body are not read), so a frontend can refuse
   * an unauthenticated request before reading its body and limit requests
   * per identity. A wrong or missing key is RAMPART_OK with role NONE. */
  rampart_status (*api_authenticate)(rampart_host_ctx* ctx, const rampart_api_request* req,
                                     rampart_api_identity* out);
  /* 1 when the agent is ready: every enabled plugin running, every engine
   * enforcing, on every configured interface; else 0. *detail (if not
   * NULL) gets a JSON object {"ready": bool, "missing": [...]}, valid until
   * this thread calls again. */
  int (*agent_ready)(rampart_host_ctx* ctx, rampart_str* detail);
  /* Engines: whether this instance enforces what its config asks (1) or
   * runs without enforcing it (0, with a reason), e.g. rules checked but no
   * kernel datapath. The agent is not ready while any engine says 0. An
   * instance starts out enforcing. */
  void (*report_enforcing)(rampart_host_ctx* ctx, int enforcing, const char* reason);

  /* ---- ABI 1.5 ---- */

  /* timer_start for a callback that returns a status: the host counts a
   * failure in rampart_plugin_callback_errors_total{callback="timer"} and
   * logs it (rate-limited) with last_error's text. The plugin then need not
   * log it itself, once per tick. Cancelled with timer_cancel. */
  rampart_status (*timer_start2)(rampart_host_ctx* ctx, uint64_t first_ms, uint64_t interval_ms,
                                 rampart_timer_fn2 fn, void* user, rampart_timer** out);
  /* What a map is: its kernel type, sizes and, for per-CPU maps, how many
   * values a lookup returns. Any thread. */
  rampart_status (*map_info)(rampart_map* map, rampart_map_info* out);
  /* A per-CPU map's value for `key` on every possible CPU: info.ncpus
   * values of info.value_size bytes, back to back, into `values`, which
   * holds `capacity` of them (fewer than ncpus: INVALID_ARGUMENT, nothing
   * written). On a map that is not per-CPU: one value. Any thread.
   * (map_lookup on a per-CPU map is refused: it has room for one value;
   * map_update and map_update_batch there set every CPU's value.) */
  rampart_status (*map_lookup_percpu)(rampart_map* map, const void* key, void* values,
                                      uint32_t capacity);
  /* Kernel counters as metrics: entries 0..count-1 of one of the plugin's
   * persistent u64 array maps (per-CPU values summed), read by the host at
   * every scrape and in GET /api/v1/ebpf. Any thread; again with the same
   * metric and status key replaces the export. */
  rampart_status (*counters_export)(rampart_host_ctx* ctx, const rampart_counter_export* desc);
  /* Keyless maps (queue, stack, Bloom filter; key_size 0): map_update with
   * a NULL key pushes (adds to a Bloom filter), map_lookup with a NULL key
   * peeks (a Bloom filter: RAMPART_OK if `value` may be in it, NOT_FOUND if
   * it is not). map_pop takes the next value out of a queue or stack
   * (NOT_FOUND when empty). */
  rampart_status (*map_pop)(rampart_map* map, void* value);

  /* ---- ABI 1.6 ---- */

  /* Claims the event source `name` for this plugin and returns its id in
   * *id: a well-known name's fixed id (rampart_event_source_name), else
   * rampart_event_source_id(name). Records in the plugin's ring buffers
   * must carry one of the plugin's sources in their header: any other is
   * dropped and counted (rampart_events_foreign_total), so no program can
   * speak for another's source. (A plugin that registers none, as before
   * 1.6, keeps records naming any source nobody registered.) Another plugin's name:
   * RAMPART_ERR_CONFLICT; the same plugin again: the same id. The name
   * labels the source's metrics. Control thread (create or start). */
  rampart_status (*source_register)(rampart_host_ctx* ctx, const char* name, uint32_t* id);

  /* ---- ABI 1.7 ---- */

  /* program_counter for entries first..first+count-1 at once, into
   * out[0..count): one kernel call, not one per entry (a rule set's hit
   * counters, carried across a table swap). Entries past the map read 0. */
  rampart_status (*program_counters)(rampart_host_ctx* ctx, rampart_program* program,
                                     const char* map, uint32_t first, uint32_t count,
                                     uint64_t* out);

  /* ---- ABI 1.9 ---- */

  /* Grace periods, for tables changed in place (RAMPART_PROGRAM_IN_PLACE):
   * a ticket taken now passes once every packet a kernel program was
   * judging when it was taken has left it (an RCU grace period that began
   * after it has ended; 8-16 ms at HZ=250). What a change stopped naming
   * may be written again once its ticket passed. 0: the host cannot tell,
   * and never writes a program in place. */
  uint64_t (*grace_ticket)(rampart_host_ctx* ctx);
  /* 1 once `ticket` passed (ticket 0: at once); with `wait`, blocks until
   * it has. 0 if it has not (or never will: no grace periods here). */
  int (*grace_passed)(rampart_host_ctx* ctx, uint64_t ticket, int wait);

  /* ---- ABI 1.10 ---- */

  /* Loads, in the background, an instance of `image`'s shape (its object,
   * program, settings and map sizes; the contents are not read) for the
   * stage it names, which the plugin's program already holds, so that a
   * later program_install of that shape takes it ready instead of loading
   * and verifying on the caller's path. For a plugin that can tell its
   * tables will soon outgrow their sizes. Nothing changes in the kernel
   * until such an install; the host may drop what it prepared (its memory
   * bound, another shape installed). Returns at once: RAMPART_OK when
   * queued or when there is nothing to prepare (the live instance has that
   * shape, spares are off). Same threads as program_install. */
  rampart_status (*program_prepare)(rampart_host_ctx* ctx, const rampart_program_image* image);
} rampart_host_api;

/*
 * What a plugin implements. create, destroy and last_error are required;
 * every other entry may be NULL. Lifecycle calls (create, validate, start,
 * reload, stop, destroy) come from one control thread; on_event and
 * send_alert come from worker threads and must not block.
 */
/*
 * Threads. The host calls an instance's lifecycle functions (create,
 * start, validate, reload, stop, destroy) from its control thread (start-up,
 * a SIGHUP or API reload, shutdown), one at a time; validate and reload run
 * while the instance's other callbacks go on. on_event, on_events and
 * stream_alert run on the worker pool, possibly on several workers at once
 * and in no order (on_event/on_events one at a time and in order with
 * RAMPART_PLUGIN_EVENTS_IN_ORDER); they must not block. send_alert runs on the sender's own
 * delivery thread, one alert at a time, and may block up to the sender's timeout (stop() cuts it
 * short). Timer callbacks run on the event loop thread, one at a time; they must not block.
 * rules_apply runs on the thread of the rule change (an API request or a reload), never
 * concurrently with itself for an instance. domain_status runs on a frontend's request thread,
 * concurrently with anything. Every callback but destroy may overlap with
 * the instance's others, so an instance guards what they share.
 */
typedef struct rampart_plugin_api {
  uint32_t struct_size;
  uint32_t reserved;
  /* Text of the last failure on this thread. Never NULL. */
  const char* (*last_error)(void);
  rampart_status (*create)(const rampart_host_api* host, const rampart_config* config,
                           rampart_plugin** out);
  rampart_status (*start)(rampart_plugin* self);
  /* Check a new config without applying it. */
  rampart_status (*validate)(rampart_plugin* self, const rampart_config* config);
  /* Apply a new config, all or nothing. NULL: the host restarts the instance. */
  rampart_status (*reload)(rampart_plugin* self, const rampart_config* config);
  /* Every other callback into the instance has returned, but for a
   * sender's send_alert in progress, which may still be blocked in the
   * network: stop() must make it return soon (shut its connection down);
   * the host keeps the alert and delivers it once the sender runs again.
   * Nothing but destroy() is called after stop(). */
  void (*stop)(rampart_plugin* self);
  void (*destroy)(rampart_plugin* self);
  rampart_status (*on_event)(rampart_plugin* self, const rampart_event* event);
  rampart_status (*send_alert)(rampart_plugin* self, const rampart_alert* alert);
  /* ABI 1.1, rule owners: check and apply the whole rule set of a domain
   * claimed with rules_claim (after one rule changed). All or nothing:
   * on failure the running set stays and last_error says which rule and
   * field is wrong. */
  rampart_status (*rules_apply)(rampart_plugin* self, const char* domain, const rampart_rule* rules,
                                size_t count);

  /* ---- ABI 1.2 (optional) ---- */

  /* A domain's state as a JSON object (installed rules, hit counters);
   * the text stays valid until this thread calls again. */
  rampart_status (*domain_status)(rampart_plugin* self, const char* domain, rampart_str* out);

  /* ---- ABI 1.3 (optional) ---- */

  /* Every alert as stored, the ones dedup or throttling kept from senders
   * too, enriched, to any plugin that sets it: frontends that stream
   * alerts (gRPC), engines that act on other engines' alerts (the IPS).
   * Called from worker threads; must not block (queue and return). */
  rampart_status (*stream_alert)(rampart_plugin* self, const rampart_alert* alert);

  /* ---- ABI 1.6 (optional) ---- */

  /* Events in batches: the records one drain of a ring buffer found, in
   * the ring's order (at most 256 per call), each valid only during the
   * call. When set, the host calls it instead of on_event for every event
   * it delivers; same threads and rules as on_event. */
  rampart_status (*on_events)(rampart_plugin* self, const rampart_event* events, size_t count);

  /* ---- ABI 1.8 (optional) ---- */

  /* Rule owners: apply changes to a domain's set rather than the whole
   * set: the set this instance applied last (rules_apply, then the changes
   * since) with `changes` made in order. All or nothing, like rules_apply:
   * on failure the set stays as it was. When set, the host calls it for
   * the API's changes (each group commit one call), so a change costs what
   * it touches, not the domain's size (a blocklist of millions); claims and
   * imports still hand the whole set to rules_apply. The host has checked
   * that a created id is new and an updated or deleted one exists. */
  rampart_status (*rules_apply_changes)(rampart_plugin* self, const char* domain,
                                        const rampart_rule_delta* changes, size_t count);
} rampart_plugin_api;

typedef struct rampart_plugin_descriptor {
  uint32_t struct_size;
  uint16_t abi_major; /* the ABI the plugin was built against */
  /* The oldest host minor the plugin works with: by default the minor it
   * was built against; less when it checks for newer host services itself
   * (RAMPART_HAS_FIELD). The host refuses a plugin whose abi_minor is newer
   * than its own; struct_size, not abi_minor, says which fields of this
   * descriptor and of the function table exist. */
  uint16_t abi_minor;
  uint32_t kind; /* rampart_plugin_kind */
  uint32_t reserved;
  const char* id; /* [a-z0-9_-]{1,64}: config key plugins.<id> */
  const char* name;
  const char* version;
  const char* license;
  const char* description;
  const rampart_plugin_api* api;
  /* ---- ABI 1.4 ---- */
  /* Settings whose values are secrets, as paths in the plugin's config
   * subtree ("password", "headers.*", "tls.key_pem"; a '*' segment matches any
   * one key or index), NULL-terminated. GET /api/v1/config shows them
   * redacted. A path ending in "#url" redacts a URL's user info, path,
   * query and fragment and keeps its scheme, host and port. An empty list
   * declares that nothing is secret; NULL declares nothing, and every
   * value but `enabled` is then redacted, as for a plugin older than 1.4. */
  const char* const* secret_settings;
  /* ---- ABI 1.6 ---- */
  uint32_t flags; /* rampart_plugin_flags */
  uint32_t reserved2;
} rampart_plugin_descriptor;

typedef enum rampart_plugin_flags {
  /* Deliver this instance's events one call at a time, in the order they
   * were produced (a ring's records in ring order): on_event/on_events are
   * then never concurrent with each other. Without it they run on several
   * workers at once, in no order, which is faster for engines whose
   * events are independent. */
  RAMPART_PLUGIN_EVENTS_IN_ORDER = 1u << 0
} rampart_plugin_flags;

/*
 * The entry point. Returns a descriptor that lives as long as the library
 * is loaded, or NULL if the plugin cannot initialise at all. The host, not
 * the plugin, decides whether the versions are compatible.
 */
typedef const rampart_plugin_descriptor* (*rampart_plugin_entry_fn)(uint16_t host_abi_major,
                                                                    uint16_t host_abi_minor);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* RAMPART_SDK_ABI_H */
