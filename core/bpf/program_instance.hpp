// SPDX-License-Identifier: Apache-2.0
// Loads one program of a BPF object with its per-instance maps sized and
// filled and its `const volatile` settings written, reusing the fds of
// shared maps (ring buffer, counters, prog arrays). A rule set becomes such
// an instance; installing its program fd in a prog array is one atomic
// write, so every packet sees the old set or the new one, never a mix.
// An instance no packet runs any more can be refilled with other contents
// of the same shape, which loads and verifies nothing (the datapath keeps
// such spares per place).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <rampart/sdk/abi.h>

struct bpf_object;

namespace rampart::bpf {

class BpfError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Byte ranges (offset, length) of a map's values laid end to end.
using ByteRanges = std::vector<std::pair<uint64_t, uint64_t>>;

struct MapContents {
  std::string name;
  uint32_t max_entries = 0;  // 0: as declared in the object
  uint32_t value_size = 0;   // 0: as declared
  // Array maps: the values of keys 0..n-1, back to back (value_size each),
  // in `dense`, or in `dense_view` when they are held by whoever built the
  // spec (a plugin's program image, alive until its install returns): big
  // tables are not copied on the way to the kernel.
  std::vector<uint8_t> dense;
  std::span<const uint8_t> dense_view;
  std::span<const uint8_t> dense_bytes() const {
    return dense_view.data() ? dense_view : std::span<const uint8_t>(dense);
  }
  // Any map: explicit key/value pairs.
  std::vector<std::pair<std::vector<uint8_t>, std::vector<uint8_t>>> entries;
  // The owner's map across instances (RAMPART_MAP_PERSISTENT): reused from
  // InstanceSpec::persistent when one of the same shape is offered, and
  // filled only when created.
  bool persistent = false;
  // ABI 1.8 (RAMPART_MAP_CHANGES_LISTED): what may differ from the slot's
  // previous contents; nullopt when the image does not say.
  std::optional<ByteRanges> changed;
};

struct InstanceSpec {
  std::string object_path;
  std::string program;                     // the only program loaded
  std::map<std::string, int> shared_maps;  // map name -> fd to reuse, where the object has it
  // Persistent maps offered for reuse (name -> fd): reused if the object
  // declares the same type, sizes and flags, else created anew.
  std::map<std::string, int> persistent;
  std::map<std::string, std::vector<uint8_t>> settings;  // const volatile name -> bytes
  std::vector<MapContents> maps;
};

class ProgramInstance {
 public:
  // Throws BpfError naming the object, program or map at fault.
  static std::unique_ptr<ProgramInstance> load(const InstanceSpec& spec);
  ~ProgramInstance();
  ProgramInstance(const ProgramInstance&) = delete;
  ProgramInstance& operator=(const ProgramInstance&) = delete;

  int program_fd() const { return prog_fd_; }
  int map_fd(const std::string& name) const;  // -1 if absent
  // Persistent maps this load created (none offered, or the one offered
  // had another shape), for the owner to keep.
  const std::vector<std::string>& created_persistent() const { return created_; }

  // What two specs must share for one's instance to be refilled with the
  // other's contents: the object file (path, inode, size, modification
  // time), the program, every setting, the sizes of the maps described and
  // the fds of the maps reused. "" when the object cannot be stat'ed.
  static std::string shape_of(const InstanceSpec& spec);
  const std::string& shape() const { return shape_; }
  // Whether every map of the instance's own can be emptied: arrays,
  // hashes, LPM tries, prog arrays and global variables; not queues,
  // stacks, Bloom filters or rings.
  bool refillable() const { return refillable_; }
  // Kernel memory its own maps take, about (entries times key and value).
  size_t own_bytes() const { return own_bytes_; }
  // New contents without a load: every map of the instance's own emptied
  // (global variables back to their initial values) and filled from
  // `spec`, whose shape (shape_of, computed once by the caller) is this
  // instance's; shared and persistent maps
  // are left alone. Only for an instance no packet can be running (out of
  // every place, and a grace period past). Throws BpfError, after which the
  // instance is to be discarded.
  // `changed`: for the maps it names, the only bytes that may differ from
  // what the instance holds (none: left as they are); others are compared
  // whole.
  void refill(const InstanceSpec& spec, const std::string& spec_shape,
              const std::map<std::string, ByteRanges>* changed = nullptr);
  // The listed changes of `spec` (same shape, every own map's changes
  // listed) written into this instance while packets run it
  // (RAMPART_PROGRAM_IN_PLACE): maps in the spec's order, each from its last
  // changed byte down, aligned words stored whole; a keyed map by writing
  // every entry of the spec, then deleting the keys it lacks. Throws
  // BpfError, with what was written before the failure left in place.
  void write_in_place(const InstanceSpec& spec, const std::string& spec_shape);
  // The generation of its place's contents the instance holds (0: unknown);
  // kept by the datapath.
  uint64_t generation() const { return generation_; }
  void set_generation(uint64_t g) { generation_ = g; }

 private:
  ProgramInstance() = default;
  bpf_object* obj_ = nullptr;
  int prog_fd_ = -1;
  std::vector<std::string> created_;
  std::string shape_;
  bool refillable_ = false;
  size_t own_bytes_ = 0;
  std::set<std::string> own_;                            // maps refill empties
  std::map<std::string, std::vector<uint8_t>> initial_;  // .data/.bss as loaded
  // The instance's mmapable arrays, mapped once for its lifetime (a
  // mapping of a big table costs as much as writing the few pages a rule
  // change touches).
  struct Mapping {
    uint8_t* base = nullptr;
    size_t len = 0;
  };
  std::map<int, Mapping> mapped_;  // by map fd
  Mapping& mapping(int fd, size_t len, const std::string& name);
  // `only`: the byte ranges to make equal (mmapable arrays), or none at
  // all to leave the map as it is; nullptr: all of it.
  void fill(int fd, const MapContents& c, uint32_t value_size, const ByteRanges* only = nullptr);
  uint64_t generation_ = 0;
};

// The instance described by a plugin's rampart_program_image (ABI 1.1),
// checked: every size and pointer is validated, nothing is trusted.
// object_path and shared_maps are left for the caller. Array contents are
// not copied (MapContents::dense_view): the image's memory must outlive
// every use of the spec.
InstanceSpec spec_from_image(const rampart_program_image& image);

// Settings helper: the bytes of a trivially copyable value.
template <class T>
std::vector<uint8_t> bytes_of(const T& v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  return std::vector<uint8_t>(p, p + sizeof(T));
}

}  // namespace rampart::bpf
