// SPDX-License-Identifier: Apache-2.0
// RAMPART_PLUGIN: the exported entry point, the function table of noexcept thunks
// and the compile-time detection of a plugin class's optional members.
// Part of the C++ SDK; include <rampart/sdk/plugin.hpp> for all of it.
#ifndef RAMPART_SDK_ENTRY_HPP
#define RAMPART_SDK_ENTRY_HPP

#include <rampart/sdk/abi.h>

#include <arpa/inet.h>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <rampart/sdk/config.hpp>
#include <rampart/sdk/error.hpp>
#include <rampart/sdk/host.hpp>
#include <rampart/sdk/views.hpp>

namespace rampart::sdk {

namespace detail {

template <class T>
struct Instance {
  Host host;
  std::unique_ptr<T> object;
};

template <class T>
T& object_of(rampart_plugin* p) {
  return *reinterpret_cast<Instance<T>*>(p)->object;
}

// Which optional members a plugin class has (C++17 detection: the SDK
// builds as C++17 and C++20).
#define RAMPART_SDK_DETECT(Name, Expr) \
  template <class T, class = void>     \
  inline constexpr bool Name = false;  \
  template <class T>                   \
  inline constexpr bool Name<T, std::void_t<decltype(Expr)>> = true;

RAMPART_SDK_DETECT(HasStart, std::declval<T&>().start())
RAMPART_SDK_DETECT(HasStop, std::declval<T&>().stop())
RAMPART_SDK_DETECT(HasValidate, std::declval<T&>().validate(std::declval<const Config&>()))
RAMPART_SDK_DETECT(HasReload, std::declval<T&>().reload(std::declval<const Config&>()))
RAMPART_SDK_DETECT(HasOnEvent, std::declval<T&>().on_event(std::declval<const Event&>()))
RAMPART_SDK_DETECT(HasOnEvents, std::declval<T&>().on_events(std::declval<const Events&>()))
// ABI 1.6: a public `static constexpr bool kEventsInOrder = true;` asks for
// on_event/on_events one call at a time, in the order events were produced.
RAMPART_SDK_DETECT(HasEventsInOrderMember, T::kEventsInOrder)
RAMPART_SDK_DETECT(HasSendAlert, std::declval<T&>().send_alert(std::declval<const Alert&>()))
RAMPART_SDK_DETECT(HasStreamAlert, std::declval<T&>().stream_alert(std::declval<const Alert&>()))
RAMPART_SDK_DETECT(HasDomainStatusCall, std::declval<T&>().domain_status(std::string_view()))
RAMPART_SDK_DETECT(HasApplyRules,
                   std::declval<T&>().apply_rules(std::string_view(),
                                                  std::declval<const std::vector<RuleBody>&>()))
// ABI 1.8: apply_rule_changes(domain, changes) applies a group commit's
// changes to the set applied last, all or nothing (rules_apply_changes).
RAMPART_SDK_DETECT(HasApplyRuleChanges,
                   std::declval<T&>().apply_rule_changes(
                       std::string_view(), std::declval<const std::vector<RuleChange>&>()))
// ABI 1.4: a public `static constexpr const char* kSecretSettings[] =
// {"password", nullptr};` declares the settings GET /api/v1/config redacts
// (a private one cannot be seen from here and would declare nothing).
RAMPART_SDK_DETECT(HasSecretSettingsMember, T::kSecretSettings[0])
// A public `static constexpr uint16_t kRequiredAbiMinor = 3;` declares the
// oldest host minor the plugin works with (it then checks for newer
// services itself; the SDK's wrappers throw UNSUPPORTED on a host without
// them). Without it, a plugin needs the minor it was built against.
RAMPART_SDK_DETECT(HasRequiredAbiMinor, T::kRequiredAbiMinor)
#undef RAMPART_SDK_DETECT

template <class T>
constexpr bool has_domain_status() {
  if constexpr (HasDomainStatusCall<T>)
    return std::is_convertible_v<decltype(std::declval<T&>().domain_status(std::string_view())),
                                 std::string>;
  else
    return false;
}
template <class T>
inline constexpr bool HasDomainStatus = has_domain_status<T>();

template <class T>
constexpr bool has_secret_settings() {
  if constexpr (HasSecretSettingsMember<T>)
    return std::is_convertible_v<decltype(T::kSecretSettings[0]), const char*>;
  else
    return false;
}
template <class T>
inline constexpr bool HasSecretSettings = has_secret_settings<T>();

template <class T>
struct Thunks {
  static rampart_status create(const rampart_host_api* host, const rampart_config* cfg,
                               rampart_plugin** out) noexcept {
    return guard([&] {
      auto inst = std::make_unique<Instance<T>>(Instance<T>{Host(host), nullptr});
      inst->object = std::make_unique<T>(inst->host, Config(host, cfg));
      *out = reinterpret_cast<rampart_plugin*>(inst.release());
    });
  }
  static rampart_status start(rampart_plugin* p) noexcept {
    return guard([&] { object_of<T>(p).start(); });
  }
  static rampart_status validate(rampart_plugin* p, const rampart_config* cfg) noexcept {
    return guard([&] {
      auto* inst = reinterpret_cast<Instance<T>*>(p);
      inst->object->validate(Config(inst->host.api(), cfg));
    });
  }
  static rampart_status reload(rampart_plugin* p, const rampart_config* cfg) noexcept {
    return guard([&] {
      auto* inst = reinterpret_cast<Instance<T>*>(p);
      inst->object->reload(Config(inst->host.api(), cfg));
    });
  }
  static void stop(rampart_plugin* p) noexcept {
    auto* inst = reinterpret_cast<Instance<T>*>(p);
    const rampart_status st = guard([&] { inst->object->stop(); });
    if (st != RAMPART_OK) inst->host.error(std::string("stop failed: ") + last_error());
  }
  static void destroy(rampart_plugin* p) noexcept {
    auto* inst = reinterpret_cast<Instance<T>*>(p);
    const rampart_status st = guard([&] { inst->object.reset(); });
    if (st != RAMPART_OK) inst->host.error(std::string("destroy failed: ") + last_error());
    delete inst;
  }
  static rampart_status on_event(rampart_plugin* p, const rampart_event* ev) noexcept {
    return guard([&] { object_of<T>(p).on_event(Event{ev}); });
  }
  static rampart_status on_events(rampart_plugin* p, const rampart_event* evs,
                                  size_t count) noexcept {
    return guard([&] { object_of<T>(p).on_events(Events(evs, count)); });
  }
  static rampart_status send_alert(rampart_plugin* p, const rampart_alert* a) noexcept {
    return guard([&] { object_of<T>(p).send_alert(Alert{a}); });
  }
  static rampart_status stream_alert(rampart_plugin* p, const rampart_alert* a) noexcept {
    return guard([&] { object_of<T>(p).stream_alert(Alert{a}); });
  }

  static rampart_status rules_apply(rampart_plugin* p, const char* domain,
                                    const rampart_rule* rules, size_t count) noexcept {
    return guard([&] {
      std::vector<RuleBody> set;
      set.reserve(count);
      for (size_t i = 0; i < count; ++i)
        set.push_back(RuleBody{rules[i].id, to_string(rules[i].body)});
      object_of<T>(p).apply_rules(domain ? std::string_view(domain) : std::string_view(), set);
    });
  }

  static rampart_status rules_apply_changes(rampart_plugin* p, const char* domain,
                                            const rampart_rule_delta* changes,
                                            size_t count) noexcept {
    return guard([&] {
      std::vector<RuleChange> list;
      list.reserve(count);
      for (size_t i = 0; i < count; ++i) {
        list.push_back(RuleChange{static_cast<rampart_rule_change>(changes[i].kind), changes[i].id,
                                  to_string(changes[i].body)});
      }
      object_of<T>(p).apply_rule_changes(domain ? std::string_view(domain) : std::string_view(),
                                         list);
    });
  }

  static rampart_status domain_status(rampart_plugin* p, const char* domain,
                                      rampart_str* out) noexcept {
    return guard([&] {
      thread_local std::string text;
      text = object_of<T>(p).domain_status(domain ? std::string_view(domain) : std::string_view());
      *out = rampart_str{text.data(), text.size()};
    });
  }

  static rampart_plugin_api table() {
    rampart_plugin_api api{};
    api.struct_size = sizeof(api);
    api.last_error = &detail::last_error;
    api.create = &create;
    api.destroy = &destroy;
    if constexpr (HasStart<T>) api.start = &start;
    if constexpr (HasStop<T>) api.stop = &stop;
    if constexpr (HasValidate<T>) api.validate = &validate;
    if constexpr (HasReload<T>) api.reload = &reload;
    if constexpr (HasOnEvent<T>) api.on_event = &on_event;
    if constexpr (HasSendAlert<T>) api.send_alert = &send_alert;
    if constexpr (HasApplyRules<T>) api.rules_apply = &rules_apply;
    if constexpr (HasDomainStatus<T>) api.domain_status = &domain_status;
    if constexpr (HasStreamAlert<T>) api.stream_alert = &stream_alert;
    if constexpr (HasOnEvents<T>) api.on_events = &on_events;
    if constexpr (HasApplyRuleChanges<T>) api.rules_apply_changes = &rules_apply_changes;
    return api;
  }
};

template <class T>
const rampart_plugin_descriptor* entry(rampart_plugin_kind kind, const char* id, const char* name,
                                       const char* version, const char* license,
                                       const char* description) noexcept {
  static const rampart_plugin_api api = Thunks<T>::table();
  static const rampart_plugin_descriptor desc = [&] {
    rampart_plugin_descriptor d{};
    d.struct_size = sizeof(d);
    d.abi_major = RAMPART_ABI_MAJOR;
    if constexpr (HasRequiredAbiMinor<T>) {
      static_assert(T::kRequiredAbiMinor <= RAMPART_ABI_MINOR,
                    "kRequiredAbiMinor is newer than the SDK it is built with");
      d.abi_minor = static_cast<uint16_t>(T::kRequiredAbiMinor);
    } else {
      d.abi_minor = RAMPART_ABI_MINOR;
    }
    d.kind = kind;
    d.id = id;
    d.name = name;
    d.version = version;
    d.license = license;
    d.description = description;
    d.api = &api;
    if constexpr (HasSecretSettings<T>) {
      // The host reads up to the NULL: a list without one would run on
      // into whatever follows it in the library.
      static_assert(T::kSecretSettings[std::size(T::kSecretSettings) - 1] == nullptr,
                    "kSecretSettings must end with nullptr");
      d.secret_settings = T::kSecretSettings;
    }
    if constexpr (HasEventsInOrderMember<T>) {
      if (T::kEventsInOrder) d.flags |= RAMPART_PLUGIN_EVENTS_IN_ORDER;
    }
    return d;
  }();
  return &desc;
}

}  // namespace detail

}  // namespace rampart::sdk

// Exports the entry point for plugin class `Class`.
#define RAMPART_PLUGIN(Class, Kind, Id, Name, Version, License, Description)                    \
  extern "C" __attribute__((visibility("default"))) const rampart_plugin_descriptor*            \
  rampart_plugin_entry(uint16_t, uint16_t) {                                                    \
    return ::rampart::sdk::detail::entry<Class>(Kind, Id, Name, Version, License, Description); \
  }

#endif  // RAMPART_SDK_ENTRY_HPP
