// SPDX-License-Identifier: Apache-2.0
// The kernel side as rampartd owns it: the XDP firewall's entry program and
// shared maps, pinned under <pin root> (default /sys/fs/bpf/rampart) and
// attached to each configured interface through a pinned bpf_link, and the
// TC dispatchers attached as clsact filters (ingress and egress). A
// restarted rampartd adopts what is pinned instead of detaching, so filtering
// never stops; `rampartd --detach-all` removes it all (the package's prerm
// runs it).
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bpf/program_instance.hpp"

namespace rampart::bpf {

struct DatapathOptions {
  std::string bpf_dir;  // where <name>.bpf.o live
  std::string pin_root = "/sys/fs/bpf/rampart";
  std::vector<std::string> interfaces;
  std::string xdp_mode = "auto";  // auto | native | generic
  bool default_deny = false;      // before any rule set is installed
};

struct Attachment {
  std::string interface;
  std::string mode;  // "native", "generic" or "error: ..."
  bool adopted = false;
  std::string tc;  // "clsact", "adopted" or "error: ..." (ingress and egress)
};

// An installed program instance (a rule set): its own maps stay readable.
class InstalledProgram {
 public:
  explicit InstalledProgram(std::unique_ptr<ProgramInstance> inst) : inst_(std::move(inst)) {}
  const ProgramInstance& instance() const { return *inst_; }

 private:
  std::unique_ptr<ProgramInstance> inst_;
};

class Datapath {
 public:
  explicit Datapath(DatapathOptions opts);
  ~Datapath();

  // load() then attach(). Throws BpfError with the reason.
  void start();
  // Loads or adopts the entry programs and shared maps and pins them;
  // nothing is attached yet (an adopted attachment keeps filtering as it
  // was). Throws BpfError with the reason.
  void load();
  // Attaches to every configured interface (an adopted link is pointed at
  // the entry program loaded) and detaches interfaces no longer
  // configured. Failures are per interface, in attachments().
  void attach();

  // Shared map fd by name (firewall_shared_maps() and tc_shared_maps()); -1 if none.
  int shared_map_fd(const std::string& name) const;

  // Loads `spec.program` from object `object` with the shared maps reused,
  // then writes its fd into prog array `slot` at `index`: one atomic step.
  // While staging, the write waits for commit_staging() (on the staging
  // thread), and installs from other threads wait for end_staging().
  std::shared_ptr<InstalledProgram> install(const std::string& object, InstanceSpec spec,
                                            const std::string& slot, uint32_t index);

  // A reload's kernel changes, all or none (plugin_host::PluginManager):
  // from begin_staging() on, installs by this thread load and verify their
  // programs (which can fail) but leave the prog arrays alone; a later
  // install into the same slot replaces the earlier staged one.
  // commit_staging() then writes every staged slot; if a write fails, the
  // slots written are restored before it throws BpfError, so no packet is
  // ever judged by a part of the reload. end_staging() forgets what is
  // still staged and lets other threads' installs go on.
  void begin_staging();
  void commit_staging();
  void end_staging();
  // The owner let go of `program`: if it is still staged, it is never installed.
  void release(const std::shared_ptr<InstalledProgram>& program);

  std::vector<Attachment> attachments() const;
  // The programs rampartd runs: entry points and installed instances
  // ("slot#index"), as name -> fd.
  std::vector<std::pair<std::string, int>> programs() const;
  bool adopted() const { return adopted_; }
  const DatapathOptions& options() const { return opts_; }

  // Detaches every interface (XDP links, and Rampart's TC filters on every
  // interface of the namespace, with the clsact qdiscs Rampart created if
  // nothing else filters there) and removes every pin under pin_root.
  static void detach_all(const std::string& pin_root);

  // Sum over CPUs of entry `index` of a per-CPU u64 array.
  static uint64_t percpu_sum(int map_fd, uint32_t index);

 private:
  std::string object_path(const std::string& object) const;
  void load_or_adopt();
  void load_or_adopt_tc();
  void attach(const std::string& ifname);
  std::string attach_tc(const std::string& ifname, unsigned ifindex);
  void mark_clsact_created(const std::string& ifname);

  DatapathOptions opts_;
  mutable std::mutex mu_;
  std::map<std::string, int> shared_;  // name -> fd (owned)
  int entry_fd_ = -1;
  int tc_fd_[2] = {-1, -1};  // tc_ingress, tc_egress
  bool adopted_ = false;
  std::vector<Attachment> attachments_;
  std::map<std::string, std::shared_ptr<InstalledProgram>> installed_;  // slot#index -> current
  struct Staged {
    std::string slot;
    uint32_t index;
    std::shared_ptr<InstalledProgram> program;
  };
  std::map<std::string, Staged> staged_;  // slot#index -> to install at commit
  bool staging_ = false;
  std::thread::id staging_thread_;
  std::condition_variable staging_done_;
};

// The xdp_firewall object's maps shared by every instance (entry program
// and each rule set's classifier), and the spec of its entry instance:
// `xdp_firewall` with tiny per-rule-set tables, creating the shared maps.
const std::vector<std::string>& firewall_shared_maps();
InstanceSpec firewall_entry_spec(const std::string& object_path, bool default_deny);

// Names of the fw_stats entries (enum rampart_fw_stat), for metrics.
const std::vector<std::string>& firewall_stat_names();

// The tc_dispatch object's maps: the stage prog arrays engines install
// their TC programs into, and the dispatchers' counters.
const std::vector<std::string>& tc_shared_maps();

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
