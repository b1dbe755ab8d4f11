// SPDX-License-Identifier: Apache-2.0
#include "alerts/geoip.hpp"

#include <fcntl.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <initializer_list>
#include <optional>
#include <set>
#include <string_view>

#include "util/unique_fd.hpp"

namespace rampart::alerts {

namespace {

enum class Role { country, city, asn };

// Where each field lives in the layouts read, tried in order.
using Path = const char* const*;
constexpr const char* kCountryNested[] = {"country", "iso_code", nullptr};  // MaxMind
constexpr const char* kCountryFlat[] = {"country_code", nullptr};           // DB-IP flat
constexpr const char* kCityNested[] = {"city", "names", "en", nullptr};
constexpr const char* kCityFlat[] = {"city", nullptr};
constexpr const char* kAsn[] = {"autonomous_system_number", nullptr};
constexpr const char* kAsOrg[] = {"autonomous_system_organization", nullptr};
constexpr std::initializer_list<Path> kCountryPaths = {kCountryNested, kCountryFlat};
constexpr std::initializer_list<Path> kCityPaths = {kCityNested, kCityFlat};

// Longest city or organisation name taken; anything longer is not a name.
constexpr size_t kMaxText = 256;
// What open() decodes of a database before trusting it: the first records
// of a depth-first walk of the search tree, within a node budget.
constexpr size_t kSampleRecords = 1024;
constexpr size_t kSampleNodes = 1 << 18;

// Structurally valid UTF-8 without control characters: the names go into
// JSON, logs and mail as they are.
bool printable_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) return false;
      ++i;
      continue;
    }
    size_t extra;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) {
      extra = 1, cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2, cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i <= extra) return false;
    for (size_t k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    if (cp < 0xa0) return false;  // C1 controls
    i += extra + 1;
  }
  return true;
}

// The value at `path` of a record, if it is there (any type).
std::optional<MMDB_entry_data_s> value_at(MMDB_entry_s entry, Path path) {
  MMDB_entry_data_s data{};
  if (MMDB_aget_value(&entry, &data, path) != MMDB_SUCCESS || !data.has_data) return std::nullopt;
  return data;
}

// The first non-empty, printable string among `paths`.
std::string text_at(MMDB_entry_s entry, std::initializer_list<Path> paths) {
  for (const Path path : paths) {
    const auto data = value_at(entry, path);
    if (!data || data->type != MMDB_DATA_TYPE_UTF8_STRING || data->data_size == 0 ||
        data->data_size > kMaxText) {
      continue;
    }
    std::string s(data->utf8_string, data->data_size);
    if (printable_utf8(s)) return s;
  }
  return "";
}

// Two ASCII letters, upper-cased; DB-IP's "ZZ" (unknown) and anything else
// is no country.
std::string country_at(MMDB_entry_s entry) {
  std::string code = text_at(entry, kCountryPaths);
  if (code.size() != 2) return "";
  for (char& c : code) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c < 'A' || c > 'Z') return "";
  }
  return code == "ZZ" ? "" : code;
}

uint32_t asn_at(MMDB_entry_s entry) {
  const auto data = value_at(entry, kAsn);
  if (!data) return 0;
  switch (data->type) {
    case MMDB_DATA_TYPE_UINT16:
      return data->uint16;
    case MMDB_DATA_TYPE_UINT32:
      return data->uint32;
    case MMDB_DATA_TYPE_UINT64:
      return data->uint64 <= UINT32_MAX ? static_cast<uint32_t>(data->uint64) : 0;
    default:
      return 0;
  }
}

// What open() and its messages need to know of each role.
struct RoleSpec {
  const char* name;           // in problem lines: geoip.<name>
  const char* article;        // "a city database"
  std::array<Path, 2> marks;  // a record with neither is not this role's
  const char* fields;         // the same, for messages
};
constexpr RoleSpec kRoles[] = {
    {"country", "a country", {kCountryNested, kCountryFlat}, "country.iso_code, country_code"},
    {"city", "a city", {kCityNested, kCityFlat}, "city.names.en, city"},
    {"asn", "an ASN", {kAsn, kAsOrg}, "autonomous_system_number, autonomous_system_organization"}};
const RoleSpec& spec(Role role) { return kRoles[static_cast<int>(role)]; }

// Whether a record has any field this role reads (present, of any type).
bool has_role_field(MMDB_entry_s entry, Role role) {
  for (const Path p : spec(role).marks) {
    if (value_at(entry, p)) return true;
  }
  return false;
}

bool contains(const std::string& haystack, const char* needle) {
  return haystack.find(needle) != std::string::npos;
}

// Whether database_type (GeoLite2-City, GeoIP2-Country, DBIP-ASN-Lite,
// "city ipv4", "country ipvAll", ...) names a database for this role. City
// databases carry countries too; ASN databases must not be country ones
// ("asn-country" databases map addresses to countries).
bool type_fits(std::string type, Role role) {
  for (char& c : type) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  const bool city = contains(type, "city") || contains(type, "enterprise");
  const bool country = contains(type, "country");
  switch (role) {
    case Role::country:
      return city || country;
    case Role::city:
      return city;
    case Role::asn:
      return (contains(type, "asn") || contains(type, "isp")) && !city && !country;
  }
  return false;
}

// Whether the file has the metadata marker where libmaxminddb looks for it
// (its last 128 KiB).
bool has_metadata_marker(const std::string& path, off_t size) {
  static constexpr std::string_view kMarker = "\xAB\xCD\xEFMaxMind.com";
  const util::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return false;
  const off_t start = size > 128 * 1024 ? size - 128 * 1024 : 0;
  std::string tail(static_cast<size_t>(size - start), '\0');
  const ssize_t got = ::pread(fd.get(), tail.data(), tail.size(), start);
  return got > 0 && std::string_view(tail.data(), static_cast<size_t>(got)).find(kMarker) !=
                        std::string_view::npos;
}

std::string open_error(int status, int saved_errno, bool marker) {
  switch (status) {
    case MMDB_FILE_OPEN_ERROR:
      return std::string("cannot open: ") + std::strerror(saved_errno);
    case MMDB_IO_ERROR:
      return std::string("cannot read: ") + std::strerror(saved_errno);
    case MMDB_INVALID_METADATA_ERROR:
      return marker ? "invalid metadata (node count, record size or IP version out of range, or "
                      "the file is truncated)"
                    : "not a MaxMind DB file, or truncated: no metadata section";
    case MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR:  // what libmaxminddb says when
    case MMDB_INVALID_LOOKUP_PATH_ERROR:              // a metadata key is missing
      return "invalid metadata: a required field is missing or has the wrong type";
    case MMDB_UNKNOWN_DATABASE_FORMAT_ERROR:
      return "unsupported MaxMind DB format version or record size";
    case MMDB_CORRUPT_SEARCH_TREE_ERROR:
      return "corrupt search tree";
    case MMDB_INVALID_DATA_ERROR:
      return "corrupt data section";
    case MMDB_OUT_OF_MEMORY_ERROR:
      return "out of memory";
    default:
      return MMDB_strerror(status);
  }
}

std::string iso_time(uint64_t epoch) {
  const auto t = static_cast<time_t>(epoch);
  tm parts{};
  char buf[32];
  if (!gmtime_r(&t, &parts) || !strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &parts)) {
    return std::to_string(epoch);
  }
  return buf;
}

}  // namespace

struct GeoIp::Db {
  Role role;
  std::string path;
  MMDB_s mmdb{};
  bool opened = false;

  Db(Role r, std::string p) : role(r), path(std::move(p)) {}
  ~Db() {
    if (opened) MMDB_close(&mmdb);
  }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // "" if usable, otherwise why not.
  std::string open();
  std::string check_sample() const;
  std::optional<MMDB_entry_s> find(const sockaddr* addr) const;
};

std::string GeoIp::Db::open() {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::string("cannot open: ") + std::strerror(errno);
  if (!S_ISREG(st.st_mode)) return "not a regular file";
  if (st.st_size == 0) return "empty file";
  if (!util::UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC)))
    return std::string("cannot open: ") + std::strerror(errno);

  errno = 0;
  const int status = MMDB_open(path.c_str(), MMDB_MODE_MMAP, &mmdb);
  if (status != MMDB_SUCCESS) {
    const int saved = errno;
    return open_error(status, saved, has_metadata_marker(path, st.st_size));
  }
  opened = true;

  const auto& meta = mmdb.metadata;
  if (meta.ip_version != 4 && meta.ip_version != 6) {
    return "unsupported IP version " + std::to_string(meta.ip_version) + " (not 4 or 6)";
  }
  const std::string type = meta.database_type ? meta.database_type : "";
  if (type.empty()) return "no database type in its metadata";
  if (!type_fits(type, role)) {
    return "database type \"" + type + "\" is not " + spec(role).article + " database";
  }
  if (meta.node_count == 0) return "empty search tree";
  return check_sample();
}

// Walks the search tree depth-first from the root (left first) and decodes
// the first kSampleRecords distinct records: a broken tree, a corrupt record
// or records without this role's fields make the database unusable. What
// the sample does not reach is checked by each lookup (a bad record there
// reads as empty).
std::string GeoIp::Db::check_sample() const {
  struct Item {
    uint32_t node;
    uint32_t depth;
  };
  std::vector<Item> stack{{0, 0}};
  std::set<uint32_t> seen;
  bool fields = false;
  const uint64_t nodes = mmdb.metadata.node_count;
  for (size_t visited = 0; !stack.empty() && seen.size() < kSampleRecords && visited < kSampleNodes;
       ++visited) {
    const Item at = stack.back();
    stack.pop_back();
    MMDB_search_node_s node{};
    const int status = MMDB_read_node(&mmdb, at.node, &node);
    if (status != MMDB_SUCCESS) {
      return "corrupt search tree: node " + std::to_string(at.node) + ": " + MMDB_strerror(status);
    }
    const auto bad = [&](const char* what) {
      return "corrupt search tree: node " + std::to_string(at.node) + what;
    };
    for (const bool right : {true, false}) {  // the left child is popped first
      const uint64_t record = right ? node.right_record : node.left_record;
      const uint8_t type = right ? node.right_record_type : node.left_record_type;
      const MMDB_entry_s entry = right ? node.right_record_entry : node.left_record_entry;
      if (type == MMDB_RECORD_TYPE_EMPTY) continue;
      if (type == MMDB_RECORD_TYPE_SEARCH_NODE) {
        if (at.depth + 1 >= mmdb.depth) return bad(" is deeper than an address has bits");
        stack.push_back({static_cast<uint32_t>(record), at.depth + 1});
        continue;
      }
      if (type != MMDB_RECORD_TYPE_DATA || record < nodes + 16 ||
          entry.offset >= mmdb.data_section_size) {
        return bad(" points outside the data section");
      }
      if (!seen.insert(entry.offset).second) continue;
      MMDB_entry_data_list_s* list = nullptr;
      MMDB_entry_s e = entry;
      const int decoded = MMDB_get_entry_data_list(&e, &list);
      MMDB_free_entry_data_list(list);
      if (decoded != MMDB_SUCCESS) {
        return "corrupt data section: record at offset " + std::to_string(entry.offset) + ": " +
               MMDB_strerror(decoded);
      }
      fields = fields || has_role_field(entry, role);
    }
  }
  if (!seen.empty() && !fields) {
    return std::string("its records have none of the fields of ") + spec(role).article +
           " database (" + spec(role).fields + ")";
  }
  return "";
}

std::optional<MMDB_entry_s> GeoIp::Db::find(const sockaddr* addr) const {
  if (addr->sa_family == AF_INET6 && mmdb.metadata.ip_version == 4) return std::nullopt;
  int error = MMDB_SUCCESS;
  const MMDB_lookup_result_s result = MMDB_lookup_sockaddr(&mmdb, addr, &error);
  if (error != MMDB_SUCCESS || !result.found_entry) return std::nullopt;
  return result.entry;
}

GeoIp::GeoIp() = default;
GeoIp::~GeoIp() = default;

std::shared_ptr<const GeoIp> GeoIp::open(const GeoIpPaths& paths,
                                         std::vector<std::string>& problems) {
  std::shared_ptr<GeoIp> geo(new GeoIp());
  const auto load = [&](Role role, const std::string& path, std::unique_ptr<Db>& slot) {
    if (path.empty()) return;
    auto db = std::make_unique<Db>(role, path);
    const std::string why = db->open();
    if (why.empty()) {
      slot = std::move(db);
    } else {
      problems.push_back(std::string("geoip.") + spec(role).name + ": " + path + ": " + why);
    }
  };
  load(Role::country, paths.country, geo->country_);
  load(Role::city, paths.city, geo->city_);
  load(Role::asn, paths.asn, geo->asn_);
  return geo;
}

GeoInfo GeoIp::lookup(uint8_t family, const uint8_t* addr) const {
  GeoInfo info;
  if (!addr || (family != 4 && family != 6)) return info;
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  sockaddr_in v4{};
  sockaddr_in6 v6{};
  const sockaddr* sa;
  if (family == 4 || std::memcmp(addr, kMapped, sizeof kMapped) == 0) {
    v4.sin_family = AF_INET;
    std::memcpy(&v4.sin_addr, family == 4 ? addr : addr + 12, 4);
    sa = reinterpret_cast<const sockaddr*>(&v4);
  } else {
    v6.sin6_family = AF_INET6;
    std::memcpy(&v6.sin6_addr, addr, 16);
    sa = reinterpret_cast<const sockaddr*>(&v6);
  }
  try {
    if (country_) {
      if (const auto e = country_->find(sa)) info.country = country_at(*e);
    }
    if (city_) {
      if (const auto e = city_->find(sa)) {
        if (info.country.empty()) info.country = country_at(*e);
        info.city = text_at(*e, kCityPaths);
      }
    }
    if (asn_) {
      if (const auto e = asn_->find(sa)) {
        info.asn = asn_at(*e);
        info.as_org = text_at(*e, {kAsOrg});
      }
    }
  } catch (...) {  // out of memory: what was found so far
  }
  return info;
}

std::vector<std::string> GeoIp::describe() const {
  std::vector<std::string> out;
  for (const Db* db : {country_.get(), city_.get(), asn_.get()}) {
    if (!db) continue;
    const auto& m = db->mmdb.metadata;
    out.push_back(std::string(spec(db->role).name) + ": " + db->path + " (type \"" +
                  m.database_type + "\", IPv" + std::to_string(m.ip_version) + ", built " +
                  iso_time(m.build_epoch) + ", " + std::to_string(m.node_count) + " nodes)");
  }
  return out;
}

GeoLookup geo_lookup(std::shared_ptr<const GeoIp> geo) {
  return [geo = std::move(geo)](uint8_t family, const uint8_t* addr, Enrichment& e) {
    GeoInfo info = geo->lookup(family, addr);
    e.country = std::move(info.country);
    e.city = std::move(info.city);
    e.asn = info.asn;
    e.as_org = std::move(info.as_org);
  };
}

}  // namespace rampart::alerts
