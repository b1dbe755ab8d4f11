// SPDX-License-Identifier: Apache-2.0
#include "bpf/datapath.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/if_link.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <pwd.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <tuple>

#include "log/logger.hpp"
#include "rampart/chain.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

namespace rampart::bpf {
namespace {

namespace fs = std::filesystem;
constexpr std::string_view kLog = "datapath";
std::string errstr(int e) { return std::strerror(e < 0 ? -e : e); }

// Rampart's cls_bpf filter in every clsact direction: handle "RP", and a
// priority ahead of filters added with tc's defaults.
constexpr uint32_t kTcHandle = 0x5250;
constexpr uint32_t kTcPriority = 0x100;

// By enum rampart_hook.
constexpr const char* kRootPrograms[RAMPART_HOOK_COUNT] = {"xdp_root", "tc_ingress_root",
                                                           "tc_egress_root"};
constexpr const char* kHookNames[RAMPART_HOOK_COUNT] = {"xdp", "tc_ingress", "tc_egress"};
constexpr const char* kChains[RAMPART_HOOK_COUNT] = {
    "rampart_xdp_chain", "rampart_tc_ingress_chain", "rampart_tc_egress_chain"};
constexpr uint32_t kUnplaced = ~0u;

// Stage names and plugin names become pin names: [a-z0-9_-], 1..47 bytes.
bool plain_name(const std::string& s) {
  if (s.empty() || s.size() >= RAMPART_STAGE_OWNER_MAX) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

// Entries first..first+n-1 of a u64 array, each summed over CPUs for a
// per-CPU one: the map's kind is asked once.
std::vector<uint64_t> sum_entries(int fd, uint32_t first, size_t n) {
  std::vector<uint64_t> out(n, 0);
  bpf_map_info info{};
  uint32_t len = sizeof info;
  if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len) != 0 || info.value_size != 8) return out;
  const int ncpu = info.type == BPF_MAP_TYPE_PERCPU_ARRAY ? libbpf_num_possible_cpus() : 1;
  const size_t per_key = ncpu > 0 ? size_t(ncpu) : 1;
  if (n > 1 && first < info.max_entries &&
      (info.type == BPF_MAP_TYPE_ARRAY || info.type == BPF_MAP_TYPE_PERCPU_ARRAY)) {
    // One batch lookup from `first` on (an array's batch resumes after the
    // key given: first - 1, or the start).
    const size_t want = std::min<size_t>(n, info.max_entries - first);
    std::vector<uint32_t> keys(want);
    std::vector<uint64_t> vals(want * per_key);
    uint32_t in = first - 1, next = 0, count = static_cast<uint32_t>(want);
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    const int rc = bpf_map_lookup_batch(fd, first ? &in : nullptr, &next, keys.data(), vals.data(),
                                        &count, &opts);
    if (rc == 0 || (errno == ENOENT && count > 0)) {
      for (uint32_t i = 0; i < count; ++i) {
        if (keys[i] < first || keys[i] - first >= n) continue;
        for (size_t c = 0; c < per_key; ++c) out[keys[i] - first] += vals[i * per_key + c];
      }
      if (count == want) return out;
    }
    std::fill(out.begin(), out.end(), 0);  // fall back: one lookup a key
  }
  std::vector<uint64_t> v(per_key);
  for (size_t i = 0; i < n; ++i) {
    uint32_t key = first + static_cast<uint32_t>(i);
    if (bpf_map_lookup_elem(fd, &key, v.data()) != 0) continue;
    for (const auto x : v) out[i] += x;
  }
  return out;
}

uint32_t prog_id(int prog_array, uint32_t index) {
  uint32_t id = 0;
  return bpf_map_lookup_elem(prog_array, &index, &id) == 0 ? id : 0;
}

bool is_bpffs(const std::string& path) {
  struct statfs st {};
  return statfs(path.c_str(), &st) == 0 && static_cast<unsigned long>(st.f_type) == BPF_FS_MAGIC;
}

// In the effective set; capget rather than libcap, for one question.
bool has_capability(int cap) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  if (syscall(SYS_capget, &header, data) != 0) return true;  // unknown: let the kernel say
  return (data[cap / 32].effective & (1u << (cap % 32))) != 0;
}

// What an agent running without root (the systemd unit's user) should be
// told when bpffs or its pin root stops it: the root step that fixes it.
std::string prepare_hint(int err) {
  if (geteuid() == 0 || (err != EPERM && err != EACCES)) return "";
  const passwd* pw = getpwuid(geteuid());
  return "; as root, `rampartd --prepare-pin-root --owner " +
         (pw ? std::string(pw->pw_name) : std::to_string(geteuid())) +
         " --config FILE` mounts bpffs and hands the pin root to this user (the systemd unit's "
         "ExecStartPre=+ does)";
}

// Interfaces on which Rampart created the clsact qdisc (rather than finding
// one there) are recorded as pins clsact/<ifname>: detaching deletes only
// those qdiscs, so another tool's clsact and its filters never go with
// Rampart's.
std::string clsact_marker(const std::string& pin_root, const std::string& ifname) {
  return pin_root + "/clsact/" + ifname;
}

// Filters in an interface's clsact qdisc, both directions, counted with an
// RTM_GETTFILTER dump (libbpf can only query a filter whose handle and
// priority it is given); -1 if netlink fails.
int tc_filter_count(unsigned ifindex) {
  const util::UniqueFd sock(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!sock) return -1;
  const int fd = sock.get();
  int count = 0;
  uint32_t seq = 0;
  for (const uint32_t parent :
       {TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS), TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS)}) {
    struct {
      nlmsghdr nh;
      tcmsg tc;
    } req{};
    req.nh.nlmsg_len = sizeof(req);
    req.nh.nlmsg_type = RTM_GETTFILTER;
    req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.nh.nlmsg_seq = ++seq;
    req.tc.tcm_family = AF_UNSPEC;
    req.tc.tcm_ifindex = static_cast<int>(ifindex);
    req.tc.tcm_parent = parent;
    if (send(fd, &req, sizeof(req), 0) < 0) count = -1;
    for (bool done = count < 0; !done;) {
      alignas(nlmsghdr) char buf[16384];
      const ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) {
        count = -1;
        break;
      }
      int len = static_cast<int>(n);
      for (auto* nh = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(nh, len);
           nh = NLMSG_NEXT(nh, len)) {
        if (nh->nlmsg_type == NLMSG_DONE) {
          done = true;
        } else if (nh->nlmsg_type == NLMSG_ERROR) {
          count = -1;
          done = true;
        } else if (nh->nlmsg_type == RTM_NEWTFILTER) {
          ++count;
        }
      }
    }
    if (count < 0) break;
  }
  return count;
}

// Removes Rampart's TC filters from an interface, then the clsact qdisc if
// Rampart created it and no other filter is left in it, then the markers.
void detach_tc(const std::string& pin_root, const std::string& ifname) {
  const std::string created = clsact_marker(pin_root, ifname);
  if (const unsigned ifindex = if_nametoindex(ifname.c_str()); ifindex != 0) {
    for (const auto point : {BPF_TC_INGRESS, BPF_TC_EGRESS}) {
      LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = static_cast<int>(ifindex), .attach_point = point);
      LIBBPF_OPTS(bpf_tc_opts, opts, .handle = kTcHandle, .priority = kTcPriority);
      bpf_tc_detach(&hook, &opts);
    }
    if (fs::exists(created)) {
      if (const int others = tc_filter_count(ifindex); others == 0) {
        // Both attach points together: the qdisc itself (libbpf's convention).
        LIBBPF_OPTS(
            bpf_tc_hook, hook, .ifindex = static_cast<int>(ifindex),
            .attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS));
        const int e = bpf_tc_hook_destroy(&hook);
        if (e != 0 && e != -ENOENT && e != -EINVAL) {
          log::warn(kLog, "cannot remove the clsact qdisc rampartd created",
                    {{"interface", ifname}, {"error", errstr(e)}});
        }
      } else {
        log::info(kLog,
                  others > 0 ? "kept the clsact qdisc rampartd created: other filters use it"
                             : "kept the clsact qdisc rampartd created: cannot list its filters",
                  {{"interface", ifname}});
      }
    }
  }
  unlink(created.c_str());
  unlink((pin_root + "/links/tc_" + ifname).c_str());
}

// Interfaces carrying Rampart's TC filters (links/tc_<ifname>) or a clsact
// qdisc it created (clsact/<ifname>).
std::set<std::string> tc_interfaces(const std::string& pin_root) {
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& de : fs::directory_iterator(pin_root + "/links", ec)) {
    const std::string name = de.path().filename().string();
    if (name.rfind("tc_", 0) == 0) out.insert(name.substr(3));
  }
  for (const auto& de : fs::directory_iterator(pin_root + "/clsact", ec))
    out.insert(de.path().filename().string());
  return out;
}

// chown of everything under the directory `dir`, which the agent's user
// may already control: relative to directory descriptors and never through
// a symbolic link, so that a link planted there cannot turn root's chown
// onto another file.
void hand_over_tree(int dir, const std::string& path, uid_t uid, gid_t gid) {
  DIR* d = fdopendir(dup(dir));
  if (!d) throw BpfError("cannot read " + path + ": " + errstr(errno));
  std::unique_ptr<DIR, int (*)(DIR*)> closer(d, closedir);
  while (const dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    const std::string child = path + "/" + name;
    if (fchownat(dir, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
      throw BpfError("cannot chown " + child + ": " + errstr(errno));
    struct stat st {};
    if (fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) continue;
    const util::UniqueFd sub(
        openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!sub) throw BpfError("cannot open " + child + ": " + errstr(errno));
    hand_over_tree(sub.get(), child, uid, gid);
  }
}

}  // namespace

void ensure_bpffs(const std::string& pin_root) {
  const std::string mount_point = fs::path(pin_root).parent_path().string();
  if (!is_bpffs(mount_point)) {
    // Not even tried without the capability: the systemd unit's system
    // call filter kills a process that calls mount().
    if (!has_capability(CAP_SYS_ADMIN)) {
      throw BpfError("no bpffs at " + mount_point + ", and mounting one needs CAP_SYS_ADMIN" +
                     prepare_hint(EPERM));
    }
    fs::create_directories(mount_point);
    if (mount("bpf", mount_point.c_str(), "bpf", 0, "mode=0700") != 0) {
      const int e = errno;
      throw BpfError("cannot mount bpffs at " + mount_point + ": " + errstr(e) + prepare_hint(e));
    }
    log::info(kLog, "mounted bpffs", {{"path", mount_point}});
  }
  for (const char* sub : {"", "/maps", "/progs", "/links", "/clsact", "/stages", "/plugins"}) {
    const std::string dir = pin_root + sub;
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
      throw BpfError("cannot create " + dir + ": " + ec.message() + prepare_hint(ec.value()));
    }
    // Pins are made and replaced in each: better said now than at the
    // first pin (a pin root an earlier run made as root, say). AT_EACCESS:
    // with the capabilities this process really has.
    if (faccessat(AT_FDCWD, dir.c_str(), W_OK | X_OK, AT_EACCESS) != 0) {
      const int e = errno;
      throw BpfError("cannot write in " + dir + ": " + errstr(e) + prepare_hint(e));
    }
  }
}

void prepare_pin_root(const std::string& pin_root, uid_t uid, gid_t gid) {
  ensure_bpffs(pin_root);
  {
    const util::UniqueFd root(
        open(pin_root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!root) throw BpfError("cannot open " + pin_root + ": " + errstr(errno));
    if (fchown(root.get(), uid, gid) != 0 || fchmod(root.get(), 0700) != 0)
      throw BpfError("cannot hand " + pin_root + " over: " + errstr(errno));
    hand_over_tree(root.get(), pin_root, uid, gid);
  }
  // Every bpffs directory above the pin root (the mount point at least,
  // 0700 root's) must let the owner through: search only, never read, so
  // names there stay unlisted and other pins keep their own modes.
  for (fs::path dir = fs::path(pin_root).parent_path(); is_bpffs(dir.string());
       dir = dir.parent_path()) {
    struct stat st {};
    if (stat(dir.c_str(), &st) != 0)
      throw BpfError("cannot stat " + dir.string() + ": " + errstr(errno));
    const mode_t search = st.st_uid == uid ? S_IXUSR : st.st_gid == gid ? S_IXGRP : S_IXOTH;
    if ((st.st_mode & search) == 0) {
      if (chmod(dir.c_str(), (st.st_mode & 07777) | search) != 0)
        throw BpfError("cannot chmod " + dir.string() + ": " + errstr(errno));
      log::info(kLog, "the pin root's owner may now search this directory",
                {{"path", dir.string()}});
    }
    if (dir == dir.parent_path()) break;
  }
}

Datapath::Datapath(DatapathOptions opts) : opts_(std::move(opts)) {}

// Deliberately no detach: pinned links keep filtering while rampartd is
// down or being upgraded. The fds close with their members.
Datapath::~Datapath() = default;

std::string Datapath::object_path(const std::string& object,
                                  const std::vector<std::string>& dirs) const {
  if (object.empty() || object.find('/') != std::string::npos || object[0] == '.')
    throw BpfError("object name '" + object + "' is not a plain file name");
  for (const auto& dir : dirs) {
    const std::string path = dir + "/" + object + ".bpf.o";
    if (fs::exists(path)) return path;
  }
  return opts_.bpf_dir + "/" + object + ".bpf.o";
}

// The roots: adopted from their pins, or loaded (xdp_root creates the
// chains, the TC roots share them) and pinned; pins of an earlier layout
// are removed then.
void Datapath::load_or_adopt_root() {
  {
    std::map<std::string, util::UniqueFd> pinned;
    for (const auto& name : core_map_names()) {
      util::UniqueFd fd(bpf_obj_get((opts_.pin_root + "/maps/" + name).c_str()));
      if (fd) pinned[name] = std::move(fd);
    }
    util::UniqueFd fds[3];
    for (int h = 0; h < 3; ++h)
      fds[h].reset(bpf_obj_get((opts_.pin_root + "/progs/" + kRootPrograms[h]).c_str()));
    if (pinned.size() == core_map_names().size() && fds[0] && fds[1] && fds[2]) {
      core_ = std::move(pinned);
      for (int h = 0; h < 3; ++h) root_fd_[h] = std::move(fds[h]);
      adopted_ = true;
      log::info(kLog, "adopted pinned roots and chains", {{"pin_root", opts_.pin_root}});
      return;
    }
  }
  // A fresh chain: whatever an earlier run (or version) pinned beside it goes.
  std::error_code ec;
  for (const char* sub :
       {"/maps", "/progs", "/stages/xdp", "/stages/tc_ingress", "/stages/tc_egress"}) {
    for (const auto& de : fs::directory_iterator(opts_.pin_root + sub, ec))
      unlink(de.path().c_str());
  }
  InstanceSpec spec;
  spec.object_path = opts_.bpf_dir + "/rampart_root.bpf.o";
  for (int h = 0; h < 3; ++h) {
    spec.program = kRootPrograms[h];
    auto inst = ProgramInstance::load(spec);
    if (h == 0) {
      for (const auto& name : core_map_names()) {
        const int fd = (core_[name] = util::UniqueFd(dup(inst->map_fd(name)))).get();
        spec.shared_maps[name] = fd;
        const std::string pin = opts_.pin_root + "/maps/" + name;
        if (bpf_obj_pin(fd, pin.c_str()) != 0)
          throw BpfError("cannot pin " + pin + ": " + errstr(errno));
      }
    }
    root_fd_[h].reset(dup(inst->program_fd()));
    const std::string pin = opts_.pin_root + "/progs/" + kRootPrograms[h];
    if (bpf_obj_pin(root_fd_[h].get(), pin.c_str()) != 0)
      throw BpfError("cannot pin " + pin + ": " + errstr(errno));
  }
  log::info(kLog, "loaded the roots", {{"object", spec.object_path}});
}

// Stages an earlier run installed, from their pinned position maps: still
// in the chain, without a program object until their plugin installs again.
void Datapath::adopt_stages() {
  for (uint32_t hook = 0; hook < RAMPART_HOOK_COUNT; ++hook) {
    std::error_code ec;
    std::vector<fs::path> pins;
    for (const auto& de :
         fs::directory_iterator(opts_.pin_root + "/stages/" + kHookNames[hook], ec))
      pins.push_back(de.path());
    for (const auto& pin : pins) {
      const std::string name = pin.filename().string();
      util::UniqueFd fd(bpf_obj_get(pin.c_str()));
      rampart_stage_pos pos{};
      const uint32_t zero = 0;
      if (!fd || bpf_map_lookup_elem(fd.get(), &zero, &pos) != 0 || pos.hook != hook ||
          pos.index >= RAMPART_CHAIN_SLOTS) {
        log::warn(kLog, "removed a stage pin that makes no sense", {{"pin", pin.string()}});
        unlink(pin.c_str());
        continue;
      }
      Stage st;
      st.owner.assign(pos.owner, strnlen(pos.owner, sizeof pos.owner));
      st.name = name;
      st.hook = hook;
      st.priority = pos.priority;
      st.flags = pos.flags;
      st.index = pos.index;
      st.pos_fd = std::move(fd);
      stages_[stage_key(hook, name)] = std::move(st);
    }
  }
}

void Datapath::set_chain_flags(uint32_t hook, uint32_t flags) {
  const int fd = core_map_fd("rampart_chains");
  rampart_chain_state st{};
  bpf_map_lookup_elem(fd, &hook, &st);
  st.flags = flags;
  if (bpf_map_update_elem(fd, &hook, &st, BPF_ANY) != 0)
    throw BpfError("cannot set the chain policy: " + errstr(errno));
}

void Datapath::set_occupied(uint32_t hook, uint32_t index, bool on) {
  const int fd = core_map_fd("rampart_chains");
  rampart_chain_state st{};
  bpf_map_lookup_elem(fd, &hook, &st);
  st.occupied = on ? (st.occupied | (1u << index)) : (st.occupied & ~(1u << index));
  if (bpf_map_update_elem(fd, &hook, &st, BPF_ANY) != 0)
    throw BpfError("cannot update the chain: " + errstr(errno));
}

// A cls_bpf filter in the clsact qdisc, both directions, under Rampart's own
// handle and priority (direct action; the dispatcher returns
// TC_ACT_UNSPEC, so later filters still run). clsact works on every kernel
// Debian 12 ships; the filter lives in the qdisc, so it outlives rampartd
// like the pinned XDP link, and a restarted rampartd replaces it in place.
// The dispatcher pinned as links/tc_<ifname> records that the interface
// carries Rampart's filters, for adoption, cleanup and --detach-all; pinned
// as clsact/<ifname> too, that Rampart created the qdisc (detach_tc).
std::string Datapath::attach_tc(const std::string& ifname, unsigned ifindex) {
  const std::string marker = opts_.pin_root + "/links/tc_" + ifname;
  const bool adopted = fs::exists(marker);
  for (int d = 0; d < 2; ++d) {
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = static_cast<int>(ifindex),
                .attach_point = d == 0 ? BPF_TC_INGRESS : BPF_TC_EGRESS);
    if (!adopted && d == 0) {
      const int e = bpf_tc_hook_create(&hook);  // both directions; EEXIST: already there
      if (e != 0 && e != -EEXIST) {
        log::error(kLog, "cannot create clsact qdisc",
                   {{"interface", ifname}, {"error", errstr(e)}});
        return "error: " + errstr(e);
      }
      if (e == 0) mark_clsact_created(ifname);
    }
    LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = root_fd_[1 + d].get(), .flags = BPF_TC_F_REPLACE,
                .handle = kTcHandle, .priority = kTcPriority);
    int e = bpf_tc_attach(&hook, &opts);
    if (e != 0 && adopted) {  // the qdisc went away behind our back: recreate it
      if (bpf_tc_hook_create(&hook) == 0) mark_clsact_created(ifname);
      opts.prog_id = 0;
      e = bpf_tc_attach(&hook, &opts);
    }
    if (e != 0) {
      log::error(kLog, "cannot attach TC", {{"interface", ifname}, {"error", errstr(e)}});
      return "error: " + errstr(e);
    }
  }
  if (!adopted && bpf_obj_pin(root_fd_[RAMPART_HOOK_TC_INGRESS].get(), marker.c_str()) != 0) {
    log::warn(kLog, "cannot pin the TC marker; --detach-all will not find this interface",
              {{"interface", ifname}, {"error", errstr(errno)}});
  }
  log::info(kLog, adopted ? "adopted TC attachment" : "attached TC", {{"interface", ifname}});
  return adopted ? "adopted" : "clsact";
}

void Datapath::mark_clsact_created(const std::string& ifname) {
  const std::string marker = clsact_marker(opts_.pin_root, ifname);
  if (bpf_obj_pin(root_fd_[RAMPART_HOOK_TC_INGRESS].get(), marker.c_str()) != 0 &&
      errno != EEXIST) {
    log::warn(kLog, "cannot record that rampartd created the clsact qdisc; detaching will leave it",
              {{"interface", ifname}, {"error", errstr(errno)}});
  }
}

void Datapath::attach(const std::string& ifname) {
  Attachment a{ifname, "", false, ""};
  const unsigned ifindex = if_nametoindex(ifname.c_str());
  const std::string pin = opts_.pin_root + "/links/xdp_" + ifname;
  if (ifindex == 0) {
    a.mode = "error: no such interface";
    log::error(kLog, "cannot attach: no such interface", {{"interface", ifname}});
    attachments_.push_back(a);
    return;
  }
  // A pinned link from an earlier run keeps filtering: adopt it and point it
  // at the current entry program.
  bpf_link* link = fs::exists(pin) ? bpf_link__open(pin.c_str()) : nullptr;
  if (link && libbpf_get_error(link) == 0) {
    bpf_link_info info{};
    uint32_t len = sizeof(info);
    bpf_obj_get_info_by_fd(bpf_link__fd(link), &info, &len);
    if (info.type == BPF_LINK_TYPE_XDP && info.xdp.ifindex == ifindex) {
      LIBBPF_OPTS(bpf_link_update_opts, uo);
      bpf_link_update(bpf_link__fd(link), root_fd_[RAMPART_HOOK_XDP].get(), &uo);
      a.mode = "adopted";
      a.adopted = true;
      bpf_link__disconnect(link);  // keep it attached when we close it
      bpf_link__destroy(link);
      log::info(kLog, "adopted XDP attachment", {{"interface", ifname}});
      a.tc = attach_tc(ifname, ifindex);
      attachments_.push_back(a);
      return;
    }
    bpf_link__destroy(link);  // stale: wrong interface (renumbered); replaced below
    unlink(pin.c_str());
  }
  auto try_mode = [&](uint32_t flags) {
    LIBBPF_OPTS(bpf_link_create_opts, lo, .flags = flags);
    return bpf_link_create(root_fd_[RAMPART_HOOK_XDP].get(), static_cast<int>(ifindex), BPF_XDP,
                           &lo);
  };
  util::UniqueFd link_fd;  // closed on the way out: the pin holds the link
  if (opts_.xdp_mode == "native" || opts_.xdp_mode == "auto") {
    link_fd.reset(try_mode(XDP_FLAGS_DRV_MODE));
    a.mode = "native";
  }
  if (!link_fd && (opts_.xdp_mode == "generic" || opts_.xdp_mode == "auto")) {
    link_fd.reset(try_mode(XDP_FLAGS_SKB_MODE));
    a.mode = "generic";
  }
  if (!link_fd) {
    a.mode = "error: " + errstr(errno);
    log::error(kLog, "cannot attach XDP",
               {{"interface", ifname}, {"mode", opts_.xdp_mode}, {"error", errstr(errno)}});
    attachments_.push_back(a);
    return;
  }
  if (bpf_obj_pin(link_fd.get(), pin.c_str()) != 0) {
    log::warn(kLog, "cannot pin XDP link; filtering stops when rampartd exits",
              {{"interface", ifname}, {"error", errstr(errno)}});
  }
  log::info(kLog, "attached XDP", {{"interface", ifname}, {"mode", a.mode}});
  a.tc = attach_tc(ifname, ifindex);
  attachments_.push_back(a);
}

void Datapath::start() {
  load();
  attach();
}

void Datapath::load() {
  std::lock_guard lock(mu_);
  ensure_bpffs(opts_.pin_root);
  load_or_adopt_root();
  if (adopted_) adopt_stages();
  set_chain_flags(RAMPART_HOOK_XDP, opts_.fail_closed ? RAMPART_CHAIN_FAIL_CLOSED : 0);
  if (exports_.empty()) export_root_counters();
}

void Datapath::attach() {
  std::lock_guard lock(mu_);
  attachments_.clear();
  // Interfaces no longer configured are detached: their XDP links unpinned
  // (the last reference: that detaches) and their TC filters removed.
  const auto configured = [&](const std::string& ifname) {
    return std::find(opts_.interfaces.begin(), opts_.interfaces.end(), ifname) !=
           opts_.interfaces.end();
  };
  std::set<std::string> gone;
  std::vector<fs::path> links;
  std::error_code ec;
  for (const auto& de : fs::directory_iterator(opts_.pin_root + "/links", ec))
    links.push_back(de.path());
  for (const auto& link : links) {
    const std::string name = link.filename().string();
    if (name.rfind("xdp_", 0) == 0 && !configured(name.substr(4))) {
      unlink(link.c_str());
      gone.insert(name.substr(4));
    }
  }
  for (const auto& ifname : tc_interfaces(opts_.pin_root)) {
    if (!configured(ifname)) {
      detach_tc(opts_.pin_root, ifname);
      gone.insert(ifname);
    }
  }
  for (const auto& ifname : gone)
    log::info(kLog, "detached interface no longer configured", {{"interface", ifname}});
  for (const auto& ifname : opts_.interfaces) attach(ifname);
}

std::vector<Attachment> Datapath::attachments() const {
  std::lock_guard lock(mu_);
  return attachments_;
}

std::vector<std::pair<std::string, int>> Datapath::programs() const {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::string, int>> out;
  for (int h = 0; h < RAMPART_HOOK_COUNT; ++h) {
    if (root_fd_[h]) out.emplace_back(kRootPrograms[h], root_fd_[h].get());
  }
  for (const auto& [key, st] : stages_) {
    if (st.current) out.emplace_back(key, st.current->instance().program_fd());
  }
  return out;
}

std::vector<StageView> Datapath::stages() const {
  std::lock_guard lock(mu_);
  std::vector<StageView> out;
  for (const auto& [key, st] : stages_) {
    StageView v{kHookNames[st.hook],
                st.name,
                st.owner,
                st.index,
                st.priority,
                (st.flags & RAMPART_STAGE_KEEP_ON_EXIT) != 0,
                0};
    if (st.index != kUnplaced) v.prog_id = prog_id(core_map_fd(kChains[st.hook]), st.index);
    out.push_back(std::move(v));
  }
  std::sort(out.begin(), out.end(), [](const StageView& a, const StageView& b) {
    return std::tie(a.hook, a.index) < std::tie(b.hook, b.index);
  });
  return out;
}

const std::vector<std::string>& Datapath::core_map_names() {
  static const std::vector<std::string> names = {kChains[0], kChains[1], kChains[2],
                                                 "rampart_chains", "rampart_root_stats"};
  return names;
}

std::string Datapath::stage_key(uint32_t hook, const std::string& name) {
  return std::string(kHookNames[hook]) + "/" + name;
}

// The roots' counters go out like any plugin's: rampart_root_stats
// entries hook * 2 + (0 passed, 1 dropped) of a packet no stage took (a
// packet a stage took is not counted by its root: these sum to the
// packets no stage claimed).
void Datapath::export_root_counters() {
  for (uint32_t hook = 0; hook < RAMPART_HOOK_COUNT; ++hook) {
    const std::string program = kRootPrograms[hook];
    CounterExport e;
    e.map = "rampart_root_stats";
    e.metric = "rampart_kernel_unclaimed_packets_total";
    e.help = "Packets no stage claimed, by what the root did with them (the chain's policy)";
    e.labels = {{"program", program}};
    e.label = "outcome";
    e.names = {"unclaimed_passed", "unclaimed_dropped"};
    e.first = hook * 2;
    e.status = program;
    exports_.push_back(std::move(e));
  }
}

int Datapath::core_map_fd(const std::string& name) const {
  const auto it = core_.find(name);
  return it == core_.end() ? -1 : it->second.get();
}

int Datapath::owned_persistent(const std::string& owner, const std::string& name) const {
  auto& maps = owned_[owner];
  if (const auto it = maps.find(name); it != maps.end()) return it->second.get();
  // Pinned by an earlier run.
  util::UniqueFd fd(bpf_obj_get((opts_.pin_root + "/plugins/" + owner + "/" + name).c_str()));
  if (!fd) return -1;
  return (maps[name] = std::move(fd)).get();
}

// A persistent map `inst` created for `owner`: pinned (replacing a pin of
// another shape) and kept.
int Datapath::keep_persistent(const std::string& owner, const ProgramInstance& inst,
                              const std::string& name) {
  const std::string dir = opts_.pin_root + "/plugins/" + owner;
  std::error_code ec;
  fs::create_directories(dir, ec);
  const std::string pin = dir + "/" + name;
  auto& maps = owned_[owner];
  if (const auto it = maps.find(name); it != maps.end()) {
    log::warn(kLog, "a persistent map changed shape: replaced, its contents lost",
              {{"plugin", owner}, {"map", name}});
    maps.erase(it);
  }
  unlink(pin.c_str());
  util::UniqueFd fd(dup(inst.map_fd(name)));
  if (!fd || bpf_obj_pin(fd.get(), pin.c_str()) != 0)
    throw BpfError("cannot pin " + pin + ": " + errstr(errno));
  return (maps[name] = std::move(fd)).get();
}

Datapath::Stage& Datapath::claim_stage(const InstallTarget& t) {
  const uint32_t hook = t.hook - RAMPART_PROGRAM_XDP;
  if (!plain_name(t.slot)) throw BpfError("stage name '" + t.slot + "' must be 1-47 of [a-z0-9_-]");
  if (!plain_name(t.owner)) throw BpfError("plugin id '" + t.owner + "' cannot own a stage");
  const std::string key = stage_key(hook, t.slot);
  auto it = stages_.find(key);
  if (it != stages_.end()) {
    if (it->second.owner != t.owner) {
      throw StageConflict("stage " + t.slot + " on " + kHookNames[hook] + " belongs to plugin " +
                          it->second.owner);
    }
    it->second.flags = (t.flags & RAMPART_PROGRAM_KEEP_ON_EXIT) ? RAMPART_STAGE_KEEP_ON_EXIT : 0;
    if (it->second.priority != t.priority && it->second.index != kUnplaced) {
      // Out of the chain for an instant; placed again by its new priority.
      uninstall_slot(it->second);
    }
    it->second.priority = t.priority;
    return it->second;
  }
  Stage st;
  st.owner = t.owner;
  st.name = t.slot;
  st.hook = hook;
  st.priority = t.priority;
  st.flags = (t.flags & RAMPART_PROGRAM_KEEP_ON_EXIT) ? RAMPART_STAGE_KEEP_ON_EXIT : 0;
  st.pos_fd.reset(bpf_map_create(BPF_MAP_TYPE_ARRAY, "rampart_stage", sizeof(uint32_t),
                                 sizeof(rampart_stage_pos), 1, nullptr));
  if (!st.pos_fd) throw BpfError("cannot create the stage map: " + errstr(errno));
  const std::string pin = opts_.pin_root + "/stages/" + key;  // stages/<hook>/<name>
  std::error_code ec;
  fs::create_directories(opts_.pin_root + "/stages/" + kHookNames[hook], ec);
  unlink(pin.c_str());
  if (bpf_obj_pin(st.pos_fd.get(), pin.c_str()) != 0)
    throw BpfError("cannot pin " + pin + ": " + errstr(errno));
  return stages_[key] = std::move(st);
}

void Datapath::write_pos(const Stage& st) {
  rampart_stage_pos pos{};
  pos.index = st.index;
  pos.priority = st.priority;
  pos.flags = st.flags;
  pos.hook = st.hook;
  std::memcpy(pos.owner, st.owner.data(), std::min(st.owner.size(), sizeof pos.owner - 1));
  const uint32_t zero = 0;
  if (bpf_map_update_elem(st.pos_fd.get(), &zero, &pos, BPF_ANY) != 0)
    throw BpfError("cannot write the stage map: " + errstr(errno));
}

// One slot up or down, for a stage that must make room. Its position is
// written first, then the new slot: a packet entering the old slot skips
// the new one, so it runs the stage once, in order.
void Datapath::move_stage(Stage& st, uint32_t to) {
  const int chain = core_map_fd(kChains[st.hook]);
  const uint32_t id = prog_id(chain, st.index);
  const util::UniqueFd prog(id ? bpf_prog_get_fd_by_id(id) : -1);
  if (!prog) throw BpfError("cannot move stage " + st.name + ": its program is gone");
  st.index = to;
  write_pos(st);
  const int fd = prog.get();
  if (bpf_map_update_elem(chain, &to, &fd, BPF_ANY) != 0)
    throw BpfError("cannot move stage " + st.name + ": " + errstr(errno));
  set_occupied(st.hook, to, true);
  // The old slot is taken over by the stage that needed the room.
}

// A slot for `st` between the stages of lower and higher priority (ties by
// name), in the middle of the free run so later stages find room; if the
// run is empty, the neighbours on one side move over by one.
void Datapath::place(Stage& st) {
  std::vector<Stage*> placed;
  for (auto& [key, other] : stages_) {
    if (&other != &st && other.hook == st.hook && other.index != kUnplaced)
      placed.push_back(&other);
  }
  std::sort(placed.begin(), placed.end(),
            [](const Stage* a, const Stage* b) { return a->index < b->index; });
  const auto before = [&](const Stage* o) {
    return std::tie(o->priority, o->name) < std::tie(st.priority, st.name);
  };
  Stage* pred = nullptr;
  Stage* succ = nullptr;
  for (auto* o : placed) {
    if (before(o)) {
      pred = o;
    } else if (!succ) {
      succ = o;
    }
  }
  const int lo = pred ? static_cast<int>(pred->index) + 1 : 0;
  const int hi = succ ? static_cast<int>(succ->index) - 1 : RAMPART_CHAIN_SLOTS - 1;
  if (lo <= hi) {
    st.index = static_cast<uint32_t>(lo + (hi - lo) / 2);
    return;
  }
  // No room between: shift the run from succ up, or the run to pred down.
  const auto occupied = [&](int i) {
    return std::any_of(placed.begin(), placed.end(),
                       [&](const Stage* o) { return static_cast<int>(o->index) == i; });
  };
  if (succ) {
    int end = static_cast<int>(succ->index);
    while (end < RAMPART_CHAIN_SLOTS && occupied(end)) ++end;
    if (end < RAMPART_CHAIN_SLOTS) {
      for (auto it = placed.rbegin(); it != placed.rend(); ++it) {
        const int i = static_cast<int>((*it)->index);
        if (i >= static_cast<int>(succ->index) && i < end) move_stage(**it, i + 1);
      }
      st.index = static_cast<uint32_t>(lo);
      return;
    }
  }
  if (pred) {
    int start = static_cast<int>(pred->index);
    while (start >= 0 && occupied(start)) --start;
    if (start >= 0) {
      for (auto* o : placed) {
        const int i = static_cast<int>(o->index);
        if (i > start && i <= static_cast<int>(pred->index)) move_stage(*o, i - 1);
      }
      st.index = static_cast<uint32_t>(hi);
      return;
    }
  }
  throw BpfError(std::string("the ") + kHookNames[st.hook] + " chain is full (" +
                 std::to_string(RAMPART_CHAIN_SLOTS) + " stages)");
}

// Puts `prog` in the stage's slot (placing the stage first if it has none):
// one prog array write, then the slot's bit.
void Datapath::activate(Stage& st, const std::shared_ptr<InstalledProgram>& prog) {
  if (st.index == kUnplaced) place(st);
  write_pos(st);
  const int chain = core_map_fd(kChains[st.hook]);
  const int fd = prog->instance().program_fd();
  if (bpf_map_update_elem(chain, &st.index, &fd, BPF_ANY) != 0) {
    throw BpfError("installing " + st.name + " in the " + kHookNames[st.hook] +
                   " chain: " + errstr(errno));
  }
  set_occupied(st.hook, st.index, true);
  st.current = prog;
}

// Out of the chain: the bit first (packets stop going there), then the slot.
void Datapath::uninstall_slot(Stage& st) {
  if (st.index == kUnplaced) return;
  set_occupied(st.hook, st.index, false);
  const int chain = core_map_fd(kChains[st.hook]);
  bpf_map_delete_elem(chain, &st.index);
  st.index = kUnplaced;
  st.current = nullptr;
}

void Datapath::uninstall(const std::string& key) {
  const auto it = stages_.find(key);
  if (it == stages_.end()) return;
  try {
    uninstall_slot(it->second);
  } catch (const BpfError& e) {
    log::error(kLog, "cannot take a stage out of the chain", {{"stage", key}, {"error", e.what()}});
  }
  unlink((opts_.pin_root + "/stages/" + key).c_str());
  log::info(kLog, "stage removed from the chain", {{"stage", key}, {"plugin", it->second.owner}});
  pool_->forget(key);
  history_.erase(key);
  stages_.erase(it);  // last: `key` may be the erased entry's own
}

namespace {

// Sorted, overlapping and touching ranges joined.
ByteRanges joined(ByteRanges r) {
  std::sort(r.begin(), r.end());
  ByteRanges out;
  for (const auto& [off, len] : r) {
    if (!out.empty() && off <= out.back().first + out.back().second) {
      out.back().second = std::max(out.back().second, off + len - out.back().first);
    } else {
      out.emplace_back(off, len);
    }
  }
  return out;
}

// Installs remembered per stage: a spare older than that is compared whole.
constexpr size_t kHistory = 64;

}  // namespace

std::map<std::string, ByteRanges> Datapath::changes_since(const std::string& place, uint64_t g,
                                                          const InstanceSpec& spec) const {
  std::map<std::string, ByteRanges> out;
  const auto h = history_.find(place);
  if (g == 0 || h == history_.end() || g > h->second.gen) return out;
  const auto& log = h->second.log;
  // Every install after g must still be in the log.
  if (g < h->second.gen && (log.empty() || log.front().first > g + 1)) return out;
  for (const auto& c : spec.maps) {
    if (!c.changed) continue;
    ByteRanges all = *c.changed;
    bool known = true;
    for (const auto& [gen, maps] : log) {
      if (gen <= g) continue;
      const auto it = maps.find(c.name);
      if (it == maps.end()) {
        known = false;
        break;
      }
      all.insert(all.end(), it->second.begin(), it->second.end());
    }
    if (known) out.emplace(c.name, joined(std::move(all)));
  }
  return out;
}

void Datapath::record(const std::string& place, InstalledProgram* prog, const InstanceSpec* spec) {
  History& h = history_[place];
  std::map<std::string, ByteRanges> listed;  // none without a spec: nothing known
  if (spec) {
    for (const auto& c : spec->maps) {
      if (c.changed) listed.emplace(c.name, *c.changed);
    }
  }
  h.log.emplace_back(++h.gen, std::move(listed));
  while (h.log.size() > kHistory) h.log.pop_front();
  if (prog) prog->set_generation(h.gen);
}

// A stage's program: a spare of the same shape refilled (tables written, no
// load), else a new instance. Either goes back to the spares once its
// place has another and its plugin let go.
std::shared_ptr<InstalledProgram> Datapath::load_or_refill(const std::string& place,
                                                           const InstanceSpec& spec,
                                                           const std::string& owner) {
  if (!opts_.table_swaps) {
    loads_.fetch_add(1);
    return std::make_shared<InstalledProgram>(ProgramInstance::load(spec), owner);
  }
  InstalledProgram::Recycle recycle = [pool = std::weak_ptr<InstancePool>(pool_),
                                       place](std::unique_ptr<ProgramInstance> gone) {
    if (const auto p = pool.lock()) p->give(place, std::move(gone));
  };
  const std::string shape = ProgramInstance::shape_of(spec);
  std::shared_ptr<InstalledProgram> inst;
  if (auto spare = pool_->take(place, shape)) {
    try {
      const auto changed = changes_since(place, spare->generation(), spec);
      spare->set_generation(0);  // until the install is recorded: whatever it holds now
      spare->refill(spec, shape, &changed);
      refills_.fetch_add(1);
      inst = std::make_shared<InstalledProgram>(std::move(spare), owner, recycle);
      inst->set_refilled();
    } catch (const BpfError& e) {
      log::warn(kLog, "refilling a spare instance failed, loading anew",
                {{"stage", place}, {"error", e.what()}});
    }
  }
  if (!inst) {
    inst = std::make_shared<InstalledProgram>(ProgramInstance::load(spec), owner, recycle);
    loads_.fetch_add(1);
  }
  if (!opts_.prepare_spares) return inst;
  // The next writes' spares, loaded meanwhile. The instance this one
  // replaces becomes one (once its plugin lets go). A load that created the
  // owner's persistent maps has the shape of a spec that offers them.
  const ProgramInstance& next = inst->instance();
  const auto st = stages_.find(place);
  const bool leaving = st != stages_.end() && st->second.current &&
                       st->second.current->instance().shape() == next.shape();
  if (next.shape() == shape) {
    pool_->prepare(place, spec, shape, next.own_bytes(), leaving);
  } else if (!next.created_persistent().empty()) {
    InstanceSpec as_next = spec;
    for (const auto& name : next.created_persistent()) as_next.persistent[name] = next.map_fd(name);
    if (ProgramInstance::shape_of(as_next) == next.shape())
      pool_->prepare(place, as_next, next.shape(), next.own_bytes(), leaving);
  }
  return inst;
}

// `spec` as `t`'s owner loads it: the object found and checked, the core's
// maps and the owner's persistent maps named (mu_ held).
void Datapath::resolve(const std::string& object, InstanceSpec& spec,
                       const InstallTarget& t) const {
  spec.object_path = object_path(object, t.object_dirs);
  if (t.object_check) {
    if (const auto why = t.object_check(spec.object_path))
      throw BpfError(spec.object_path + " is not loaded: " + *why);
  }
  for (const auto& [name, fd] : core_)
    spec.shared_maps[name] = fd.get();  // the chains, where the object declares them
  for (const auto& m : spec.maps) {
    if (m.persistent) spec.persistent[m.name] = owned_persistent(t.owner, m.name);
  }
}

std::shared_ptr<InstalledProgram> Datapath::install(const std::string& object, InstanceSpec spec,
                                                    const InstallTarget& t) {
  std::unique_lock lock(mu_);
  const auto me = std::this_thread::get_id();
  staging_done_.wait(lock, [&] { return !staging_ || staging_thread_ == me; });
  if (t.hook > RAMPART_PROGRAM_TC_EGRESS) throw BpfError("unknown hook " + std::to_string(t.hook));
  resolve(object, spec, t);
  Stage* stage = nullptr;
  bool fresh = false;
  if (t.hook != RAMPART_PROGRAM_SLOT) {
    fresh = stages_.count(stage_key(t.hook - RAMPART_PROGRAM_XDP, t.slot)) == 0;
    stage = &claim_stage(t);
    spec.shared_maps["rampart_stage"] = stage->pos_fd.get();
  }
  // Written into the live instance where the plugin asks and it holds the
  // install before this one: no other instance, no slot write.
  if (stage && (t.flags & RAMPART_PROGRAM_IN_PLACE) && !staging_ && opts_.table_swaps &&
      pool_->grace().available() && stage->current) {
    const std::string place = stage_key(stage->hook, stage->name);
    const auto h = history_.find(place);
    const ProgramInstance& live = stage->current->instance();
    const bool listed = std::all_of(spec.maps.begin(), spec.maps.end(), [](const MapContents& c) {
      return c.persistent || c.changed.has_value();
    });
    if (listed && h != history_.end() && live.generation() == h->second.gen &&
        live.generation() != 0) {
      const std::string shape = ProgramInstance::shape_of(spec);
      if (shape == live.shape()) {
        try {
          stage->current->write_in_place(spec, shape);
        } catch (...) {
          // Whatever landed is of no generation the plugin made current;
          // the next install compares this instance whole.
          stage->current->set_generation(0);
          throw;
        }
        in_place_.fetch_add(1);
        record(place, stage->current.get(), &spec);
        return stage->current;
      }
    }
  }
  std::shared_ptr<InstalledProgram> inst;
  try {
    inst = stage ? load_or_refill(stage_key(stage->hook, stage->name), spec, t.owner)
                 : std::make_shared<InstalledProgram>(ProgramInstance::load(spec), t.owner);
  } catch (...) {
    if (fresh) uninstall(stage_key(stage->hook, stage->name));
    throw;
  }
  for (const auto& name : inst->instance().created_persistent())
    keep_persistent(t.owner, inst->instance(), name);

  Staged place_it{"", -1, t.slot_index, inst};
  if (stage) {
    place_it.stage = stage_key(stage->hook, stage->name);
  } else {
    place_it.slot_fd = owned_map_fd_locked(t.owner, t.slot);
    bpf_map_info info{};
    uint32_t len = sizeof info;
    if (place_it.slot_fd < 0 || bpf_obj_get_info_by_fd(place_it.slot_fd, &info, &len) != 0 ||
        info.type != BPF_MAP_TYPE_PROG_ARRAY) {
      throw BpfError("slot " + t.slot + " is not a prog array of plugin " + t.owner);
    }
  }
  const std::string key =
      stage ? place_it.stage
            : std::to_string(place_it.slot_fd) + "#" + std::to_string(place_it.index);
  if (staging_) {
    // A staged install may be rolled back: it holds no generation, and
    // spares of earlier ones compare whole from now on.
    if (stage) record(place_it.stage, nullptr, nullptr);
    staged_[key] = std::move(place_it);
    return inst;
  }
  if (stage) {
    activate(*stage, inst);
    record(place_it.stage, inst.get(), &spec);
  } else {
    const int fd = inst->instance().program_fd();
    if (bpf_map_update_elem(place_it.slot_fd, &place_it.index, &fd, BPF_ANY) != 0)
      throw BpfError("installing " + spec.program + " in " + t.slot + ": " + errstr(errno));
  }
  return inst;
}

bool Datapath::prepare(const std::string& object, InstanceSpec spec, const InstallTarget& t) {
  std::lock_guard lock(mu_);
  if (!opts_.table_swaps || !opts_.prepare_spares || t.hook == RAMPART_PROGRAM_SLOT ||
      t.hook > RAMPART_PROGRAM_TC_EGRESS)
    return false;
  const std::string place = stage_key(t.hook - RAMPART_PROGRAM_XDP, t.slot);
  const auto stage = stages_.find(place);
  if (stage == stages_.end() || stage->second.owner != t.owner || !stage->second.current)
    return false;
  resolve(object, spec, t);
  spec.shared_maps["rampart_stage"] = stage->second.pos_fd.get();
  const std::string shape = ProgramInstance::shape_of(spec);
  if (shape.empty() || shape == stage->second.current->instance().shape()) return false;
  // Its tables' bytes, as ProgramInstance::own_bytes() will count them:
  // the sizes the spec leaves as declared and the key sizes are the live
  // instance's (the same object).
  const ProgramInstance& live = stage->second.current->instance();
  size_t bytes = 0;
  for (const auto& m : spec.maps) {
    bpf_map_info info{};
    uint32_t len = sizeof info;
    const int fd = live.map_fd(m.name);
    if (m.persistent || fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len) != 0) continue;
    const size_t entries = m.max_entries ? m.max_entries : info.max_entries;
    const size_t value = m.value_size ? m.value_size : info.value_size;
    bytes += entries * (info.key_size + (value + 7) / 8 * 8);
  }
  return pool_->prepare_ahead(place, spec, shape, bytes);
}

uint64_t Datapath::grace_ticket() {
  GracePeriods& gp = pool_->grace();
  return gp.available() ? gp.request() : 0;
}

bool Datapath::grace_passed(uint64_t ticket, bool wait) {
  GracePeriods& gp = pool_->grace();
  return wait ? gp.wait(ticket) : gp.done(ticket);
}

void Datapath::begin_staging() {
  std::unique_lock lock(mu_);
  const auto me = std::this_thread::get_id();
  staging_done_.wait(lock, [&] { return !staging_ || staging_thread_ == me; });
  staging_ = true;
  staging_thread_ = me;
  staged_.clear();
}

void Datapath::commit_staging() {
  std::lock_guard lock(mu_);
  // What each place holds now, to put back if a later write fails.
  struct Written {
    const Staged* staged;
    std::shared_ptr<InstalledProgram> stage_prev;  // stage's previous program
    uint32_t slot_prev = 0;                        // prog array's previous program id
  };
  std::vector<Written> written;
  auto restore = [&] {
    for (auto it = written.rbegin(); it != written.rend(); ++it) {
      const Staged& st = *it->staged;
      if (!st.stage.empty()) {
        const auto s = stages_.find(st.stage);
        if (s == stages_.end()) continue;
        if (it->stage_prev) {
          try {
            activate(s->second, it->stage_prev);
          } catch (const BpfError&) {
          }
        } else {
          uninstall_slot(s->second);
        }
      } else if (it->slot_prev) {
        const util::UniqueFd prev(bpf_prog_get_fd_by_id(it->slot_prev));
        uint32_t index = st.index;
        const int fd = prev.get();
        if (prev) bpf_map_update_elem(st.slot_fd, &index, &fd, BPF_ANY);
      } else {
        uint32_t index = st.index;
        bpf_map_delete_elem(st.slot_fd, &index);
      }
    }
  };
  for (const auto& [key, st] : staged_) {
    Written w{&st, nullptr, 0};
    try {
      if (!st.stage.empty()) {
        auto s = stages_.find(st.stage);
        if (s == stages_.end()) throw BpfError("stage " + st.stage + " is gone");
        w.stage_prev = s->second.current;
        activate(s->second, st.program);
      } else {
        w.slot_prev = prog_id(st.slot_fd, st.index);
        const int fd = st.program->instance().program_fd();
        uint32_t index = st.index;
        if (bpf_map_update_elem(st.slot_fd, &index, &fd, BPF_ANY) != 0)
          throw BpfError("installing in " + key + ": " + errstr(errno));
      }
    } catch (const BpfError& e) {
      restore();
      throw BpfError(std::string(e.what()) + " (the reload's other programs were taken back)");
    }
    written.push_back(w);
  }
  // Each stage's committed instance holds all its install wrote: it is the
  // newest generation there (with no changes listed, so older spares are
  // compared whole), and the next write may go into it in place.
  for (const auto& [key, st] : staged_) {
    if (!st.stage.empty()) record(st.stage, st.program.get(), nullptr);
  }
  staged_.clear();
}

void Datapath::end_staging() {
  {
    std::lock_guard lock(mu_);
    // A stage claimed in the reload but never committed leaves no trace.
    std::vector<std::string> unused;
    for (const auto& [key, st] : staged_) {
      const auto s = stages_.find(st.stage);
      if (!st.stage.empty() && s != stages_.end() && s->second.index == kUnplaced &&
          !s->second.current)
        unused.push_back(st.stage);
    }
    for (const auto& key : unused) uninstall(key);
    staged_.clear();
    staging_ = false;
  }
  staging_done_.notify_all();
}

void Datapath::release(const std::shared_ptr<InstalledProgram>& program) {
  std::lock_guard lock(mu_);
  std::erase_if(staged_, [&](const auto& kv) { return kv.second.program == program; });
  for (auto& [key, st] : stages_) {
    if (st.current != program) continue;
    // Replaced by a program the reload staged: it stays until the commit
    // swaps it (or, rolled back, stays as the kernel has it).
    if (staged_.count(key)) return;
    if (exiting_ && (st.flags & RAMPART_STAGE_KEEP_ON_EXIT)) {
      st.current->keep();
      st.current = nullptr;  // stays in the chain for the next rampartd
      return;
    }
    uninstall(key);
    return;
  }
}

void Datapath::set_exiting() {
  std::lock_guard lock(mu_);
  exiting_ = true;
}

void Datapath::remove_unclaimed_stages(const std::set<std::string>& keep_owners) {
  std::lock_guard lock(mu_);
  std::vector<std::string> gone;
  for (const auto& [key, st] : stages_) {
    if (!st.current && !keep_owners.count(st.owner)) gone.push_back(key);
  }
  for (const auto& key : gone) uninstall(key);
}

int Datapath::owned_map_fd_locked(const std::string& owner, const std::string& name) const {
  if (const int fd = owned_persistent(owner, name); fd >= 0) return fd;
  for (const auto& [key, st] : stages_) {
    if (st.owner == owner && st.current) {
      if (const int fd = st.current->instance().map_fd(name); fd >= 0) return fd;
    }
  }
  return -1;
}

int Datapath::owned_map_fd(const std::string& owner, const std::string& name) const {
  std::lock_guard lock(mu_);
  return owned_map_fd_locked(owner, name);
}

std::vector<std::pair<std::string, int>> Datapath::owned_rings(const std::string& owner) const {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::string, int>> out;
  const auto it = owned_.find(owner);
  if (it == owned_.end()) return out;
  for (const auto& [name, fd] : it->second) {
    bpf_map_info info{};
    uint32_t len = sizeof info;
    if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) == 0 && info.type == BPF_MAP_TYPE_RINGBUF)
      out.emplace_back(name, fd.get());
  }
  return out;
}

void Datapath::export_counters(CounterExport desc) {
  std::lock_guard lock(mu_);
  const int fd = owned_persistent(desc.owner, desc.map);
  bpf_map_info info{};
  uint32_t len = sizeof info;
  if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len) != 0)
    throw BpfError("no persistent map " + desc.map + " of plugin " + desc.owner);
  const uint64_t end = uint64_t{desc.first} + desc.names.size();
  if ((info.type != BPF_MAP_TYPE_ARRAY && info.type != BPF_MAP_TYPE_PERCPU_ARRAY) ||
      info.value_size != 8 || info.max_entries < end) {
    throw BpfError("map " + desc.map + " is not a u64 array of " + std::to_string(end) +
                   " entries");
  }
  std::erase_if(exports_, [&](const CounterExport& e) {
    return e.owner == desc.owner && e.metric == desc.metric && e.status == desc.status;
  });
  if (!desc.names.empty()) exports_.push_back(std::move(desc));  // none: withdrawn
}

void Datapath::forget_exports(const std::string& owner) {
  std::lock_guard lock(mu_);
  std::erase_if(exports_, [&](const CounterExport& e) { return e.owner == owner; });
}

std::vector<CounterValues> Datapath::counters() const {
  std::lock_guard lock(mu_);
  std::vector<CounterValues> out;
  for (const auto& e : exports_) {
    const int fd = e.owner.empty() ? core_map_fd(e.map) : owned_persistent(e.owner, e.map);
    out.push_back({e, sum_entries(fd, e.first, e.names.size())});
  }
  return out;
}

void Datapath::detach_all(const std::string& pin_root) {
  for (const auto& ifname : tc_interfaces(pin_root)) detach_tc(pin_root, ifname);
  // Links first: removing the last reference detaches the program.
  std::error_code ec;
  for (const char* sub : {"/links", "/progs", "/maps"}) {
    for (const auto& de : fs::directory_iterator(pin_root + sub, ec)) unlink(de.path().c_str());
  }
  fs::remove_all(pin_root, ec);
}

uint64_t Datapath::percpu_sum(int map_fd, uint32_t index) {
  return sum_entries(map_fd, index, 1)[0];
}

std::vector<uint64_t> Datapath::percpu_sums(int map_fd, uint32_t first, size_t count) {
  return sum_entries(map_fd, first, count);
}

}  // namespace rampart::bpf
