// SPDX-License-Identifier: Apache-2.0
// The kernel side as rampartd owns it, knowing no engine: the roots
// (bpf/rampart_root.bpf.c) attached to each configured interface (XDP
// through a pinned bpf_link, TC as clsact filters), the stage chains behind
// them, and what plugins install there: their stages, and the maps they
// keep across program swaps and restarts. Everything is pinned under <pin
// root> (default /sys/fs/bpf/rampart). A restarted rampartd adopts what is
// pinned instead of detaching, so filtering never stops; `rampartd
// --detach-all` removes it all (the package's prerm runs it).
//
// Pins: maps/ and progs/ (the roots and chains), stages/<hook>/<name> (each
// stage's position map, recording its owner and priority), plugins/<plugin
// id>/<map> (persistent maps), links/ and clsact/ (attachments).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bpf/instance_pool.hpp"
#include "bpf/program_instance.hpp"
#include "util/unique_fd.hpp"

namespace rampart::bpf {

// A stage claimed by another plugin.
class StageConflict : public BpfError {
 public:
  using BpfError::BpfError;
};

struct DatapathOptions {
  std::string bpf_dir;  // rampart_root.bpf.o, and objects no plugin directory has
  std::string pin_root = "/sys/fs/bpf/rampart";
  std::vector<std::string> interfaces;
  std::string xdp_mode = "auto";  // auto | native | generic
  bool fail_closed = false;       // XDP drops what no stage took (no stage installed)
  bool table_swaps = true;        // same-shape installs refill a spare (no program load)
  // With table_swaps: spares of a stage's live shape loaded ahead, in the
  // background, so that a write never waits for a grace period.
  bool prepare_spares = true;
  // The spares' tables a stage may hold.
  size_t spare_bytes_per_stage = InstancePool::kBytesPerPlace;
};

struct Attachment {
  std::string interface;
  std::string mode;  // "native", "generic" or "error: ..."
  bool adopted = false;
  std::string tc;  // "clsact", "adopted" or "error: ..." (ingress and egress)
};

// An installed program instance: its own maps stay readable. Once nobody
// holds it (its place took another program, or was removed, and its
// plugin let go), a stage's instance goes to the datapath's spares.
class InstalledProgram {
 public:
  using Recycle = std::function<void(std::unique_ptr<ProgramInstance>)>;
  InstalledProgram(std::unique_ptr<ProgramInstance> inst, std::string owner,
                   Recycle recycle = nullptr)
      : inst_(std::move(inst)), owner_(std::move(owner)), recycle_(std::move(recycle)) {}
  ~InstalledProgram() {
    if (recycle_ && inst_) recycle_(std::move(inst_));
  }
  InstalledProgram(const InstalledProgram&) = delete;
  InstalledProgram& operator=(const InstalledProgram&) = delete;
  const ProgramInstance& instance() const { return *inst_; }
  const std::string& owner() const { return owner_; }
  // It stays in the kernel's chain after rampartd (keep on exit): never a spare.
  void keep() { recycle_ = nullptr; }
  // Made by refilling a spare, not by a load.
  bool refilled() const { return refilled_; }
  void set_refilled() { refilled_ = true; }
  // Which of its place's contents it holds (ProgramInstance::generation).
  void set_generation(uint64_t g) { inst_->set_generation(g); }
  // Its tables changed while it runs (the datapath's lock held).
  void write_in_place(const InstanceSpec& spec, const std::string& shape) {
    inst_->write_in_place(spec, shape);
  }

 private:
  std::unique_ptr<ProgramInstance> inst_;
  std::string owner_;
  Recycle recycle_;
  bool refilled_ = false;
};

// Where a plugin's program goes (rampart_program_image, ABI 1.5).
struct InstallTarget {
  std::string owner;                     // plugin id
  std::vector<std::string> object_dirs;  // searched for <object>.bpf.o before bpf_dir
  uint32_t hook = 0;                     // rampart_program_hook
  std::string slot;                      // stage name, or a prog array of the owner's
  uint32_t slot_index = 0;               // in that prog array
  int32_t priority = 0;
  uint32_t flags = 0;  // RAMPART_PROGRAM_*
  // Why the object file found must not be loaded (who may write it), or
  // nullopt; none: no check.
  std::function<std::optional<std::string>(const std::string&)> object_check;
};

// A stage in a chain, as status shows it.
struct StageView {
  std::string hook, name, owner;
  uint32_t index = 0;
  int32_t priority = 0;
  bool keep_on_exit = false;
  uint32_t prog_id = 0;  // 0: not in the chain
};

// Kernel counters exported as metrics: a plugin's (counters_export), or
// the core's own (owner "": the roots').
struct CounterExport {
  std::string owner, map, metric, help, label, status;
  std::vector<std::pair<std::string, std::string>> labels;
  std::vector<std::string> names;  // entries first..first+names.size()-1
  uint32_t first = 0;
};
struct CounterValues {
  CounterExport desc;
  std::vector<uint64_t> values;  // per name, summed over CPUs
};

class Datapath {
 public:
  explicit Datapath(DatapathOptions opts);
  ~Datapath();

  // load() then attach(). Throws BpfError with the reason.
  void start();
  // Loads or adopts the roots and chains and pins them, with the stages an
  // earlier run left (kept until remove_unclaimed_stages); nothing is
  // attached yet (an adopted attachment keeps filtering as it was). Throws
  // BpfError with the reason.
  void load();
  // Attaches the roots to every configured interface (an adopted link is
  // pointed at the root loaded) and detaches interfaces no longer
  // configured. Failures are per interface, in attachments().
  void attach();

  // A core map (chains, rampart_chains, rampart_root_stats) by name; -1 if none.
  int core_map_fd(const std::string& name) const;

  // Loads `spec.program` from <object>.bpf.o and installs it where `target`
  // says, one atomic prog array write: a stage of a hook's chain (placed by
  // priority; StageConflict if another plugin owns the name) or an index of
  // one of the owner's prog arrays. The owner's persistent maps are reused
  // or created and pinned. While staging, the write waits for
  // commit_staging() (on the staging thread), and installs from other
  // threads wait for end_staging().
  std::shared_ptr<InstalledProgram> install(const std::string& object, InstanceSpec spec,
                                            const InstallTarget& target);

  // A reload's kernel changes, all or none (plugin_host::PluginManager):
  // from begin_staging() on, installs by this thread load and verify their
  // programs (which can fail) but leave the chains alone; a later install
  // into the same place replaces the earlier staged one. commit_staging()
  // then writes every staged place; if a write fails, those written are
  // restored before it throws BpfError, so no packet is ever judged by a
  // part of the reload. end_staging() forgets what is still staged and lets
  // other threads' installs go on.
  // ABI 1.10: a spare of `spec`'s shape loaded in the background for the
  // stage `t` names, which `t.owner`'s program holds (its plugin sees its
  // tables will soon outgrow the live instance's sizes): the install of that
  // shape then refills it instead of loading on the writer's path. False
  // (nothing prepared) when the stage is not the owner's or has that shape
  // already, when spares are off, or when no spare of that size fits
  // beside the live shape's (DatapathOptions::spare_bytes_per_stage). Throws BpfError for what
  // install() would refuse of the object.
  bool prepare(const std::string& object, InstanceSpec spec, const InstallTarget& t);
  void begin_staging();
  void commit_staging();
  void end_staging();
  // The owner let go of `program`: if it is still staged, it is never
  // installed; if it is a stage's program, the stage leaves the chain
  // (unless rampartd is exiting and the stage asked to stay).
  void release(const std::shared_ptr<InstalledProgram>& program);
  // rampartd is exiting: stages with RAMPART_PROGRAM_KEEP_ON_EXIT stay.
  void set_exiting();
  // Stages an earlier run left that no plugin installed since load(): out
  // of the chain (their plugin is disabled, gone or renamed them), except
  // those of `keep_owners` (plugins that failed to start keep filtering as
  // they did).
  void remove_unclaimed_stages(const std::set<std::string>& keep_owners = {});

  // The owner's map by name: a persistent one, else one of its installed
  // programs'; -1 if none. The fd stays the datapath's.
  int owned_map_fd(const std::string& owner, const std::string& name) const;
  // The owner's persistent ring buffers, name -> fd.
  std::vector<std::pair<std::string, int>> owned_rings(const std::string& owner) const;
  // Kernel counters as metrics (again with the same owner, metric and
  // status: replaced; with no names: withdrawn). Throws BpfError if the map
  // is not one of the owner's persistent u64 arrays holding entries
  // first..first+names-1.
  void export_counters(CounterExport desc);
  void forget_exports(const std::string& owner);
  std::vector<CounterValues> counters() const;

  std::vector<Attachment> attachments() const;
  std::vector<StageView> stages() const;
  // The programs rampartd runs: roots and stages ("<hook>/<stage>"), as name -> fd.
  std::vector<std::pair<std::string, int>> programs() const;
  // Stage installs served by refilling a spare instance (no load, no
  // verifier), and by loading one.
  uint64_t refills() const { return refills_.load(); }
  uint64_t loads() const { return loads_.load(); }
  // Installs written into the stage's live instance (RAMPART_PROGRAM_IN_PLACE).
  uint64_t writes_in_place() const { return in_place_.load(); }
  // Grace periods for plugins that change live tables (ABI 1.9): a ticket
  // (0: grace periods are not available here), and whether it passed.
  uint64_t grace_ticket();
  bool grace_passed(uint64_t ticket, bool wait);
  // Spares loaded ahead (prepare_spares).
  uint64_t spares_prepared() const { return pool_->prepared(); }
  bool adopted() const { return adopted_; }
  const DatapathOptions& options() const { return opts_; }

  // Detaches every interface (XDP links, and Rampart's TC filters on every
  // interface of the namespace, with the clsact qdiscs Rampart created if
  // nothing else filters there) and removes every pin under pin_root.
  static void detach_all(const std::string& pin_root);

  // Sum over CPUs of entry `index` of a per-CPU u64 array (or the value of a plain one).
  static uint64_t percpu_sum(int map_fd, uint32_t index);
  // Entries first..first+count-1 of the same, in one batch lookup.
  static std::vector<uint64_t> percpu_sums(int map_fd, uint32_t first, size_t count);

  // The core's maps: the chains, their state, the roots' counters.
  static const std::vector<std::string>& core_map_names();

 private:
  struct Stage {
    std::string owner, name;
    uint32_t hook = 0;  // enum rampart_hook
    int32_t priority = 0;
    uint32_t flags = 0;
    uint32_t index = ~0u;  // ~0u: not placed
    util::UniqueFd pos_fd;
    std::shared_ptr<InstalledProgram> current;  // null: left by an earlier run, or kept at exit
  };
  struct Staged {
    std::string stage;  // stages_ key, or "" for a prog array slot
    int slot_fd = -1;
    uint32_t index = 0;
    std::shared_ptr<InstalledProgram> program;
  };

  std::string object_path(const std::string& object, const std::vector<std::string>& dirs) const;
  void resolve(const std::string& object, InstanceSpec& spec, const InstallTarget& t) const;
  void load_or_adopt_root();
  void adopt_stages();
  void set_chain_flags(uint32_t hook, uint32_t flags);
  void set_occupied(uint32_t hook, uint32_t index, bool on);
  Stage& claim_stage(const InstallTarget& t);
  void place(Stage& st);
  void move_stage(Stage& st, uint32_t to);
  void write_pos(const Stage& st);
  void activate(Stage& st, const std::shared_ptr<InstalledProgram>& prog);
  static std::string stage_key(uint32_t hook, const std::string& name);
  void export_root_counters();
  void uninstall(const std::string& key);
  std::shared_ptr<InstalledProgram> load_or_refill(const std::string& place,
                                                   const InstanceSpec& spec,
                                                   const std::string& owner);
  // What a spare holding generation `g` of `place` needs rewritten to hold
  // `spec`: per map whose changes every install since g listed (ABI 1.8),
  // their union with spec's; other maps are absent (compared whole).
  std::map<std::string, ByteRanges> changes_since(const std::string& place, uint64_t g,
                                                  const InstanceSpec& spec) const;
  // `prog` holds `spec` at `place`, installed: the next generation. Both
  // null: an install whose contents are not known to last (staged).
  void record(const std::string& place, InstalledProgram* prog, const InstanceSpec* spec);
  void uninstall_slot(Stage& st);
  int owned_map_fd_locked(const std::string& owner, const std::string& name) const;
  int keep_persistent(const std::string& owner, const ProgramInstance& inst,
                      const std::string& name);
  int owned_persistent(const std::string& owner, const std::string& name) const;
  void attach(const std::string& ifname);
  std::string attach_tc(const std::string& ifname, unsigned ifindex);
  void mark_clsact_created(const std::string& ifname);

  DatapathOptions opts_;
  mutable std::mutex mu_;
  std::map<std::string, util::UniqueFd> core_;  // core map name -> fd
  util::UniqueFd root_fd_[3];                   // xdp_root, tc_ingress_root, tc_egress_root
  bool adopted_ = false;
  bool exiting_ = false;
  std::vector<Attachment> attachments_;
  std::map<std::string, Stage> stages_;  // "<hook>/<name>"
  mutable std::map<std::string, std::map<std::string, util::UniqueFd>>
      owned_;  // owner -> map -> fd
  std::vector<CounterExport> exports_;
  std::map<std::string, Staged> staged_;  // stage key or "<fd>#<index>" -> to install at commit
  // Per stage, what its last installs changed (newest last, a bounded
  // number): the generation each made and, per map that listed its
  // changes, the byte ranges.
  struct History {
    uint64_t gen = 0;
    std::deque<std::pair<uint64_t, std::map<std::string, ByteRanges>>> log;
  };
  std::map<std::string, History> history_;
  bool staging_ = false;
  std::thread::id staging_thread_;
  std::condition_variable staging_done_;
  // Shared with the recyclers of the programs handed out, which may
  // outlive the datapath.
  std::shared_ptr<InstancePool> pool_ = std::make_shared<InstancePool>(opts_.spare_bytes_per_stage);
  std::atomic<uint64_t> loads_{0}, refills_{0}, in_place_{0};
};

// Mounts bpffs on the pin root's parent if no bpffs is there (needs
// CAP_SYS_ADMIN) and creates the pin root's directories. Throws BpfError;
// one that a user without root could fix says how (prepare_pin_root).
void ensure_bpffs(const std::string& pin_root);

// `rampartd --prepare-pin-root`, as root, for an agent that runs as uid:gid
// with CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON only (the systemd unit):
// ensure_bpffs, then the pin root and everything in it (pins an earlier
// run left included) handed to uid:gid, the root 0700, and every bpffs
// directory above it searchable (x, never r) by uid. Throws BpfError.
void prepare_pin_root(const std::string& pin_root, uid_t uid, gid_t gid);

}  // namespace rampart::bpf
