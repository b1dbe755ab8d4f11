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

#include "log/logger.hpp"
#include "rampart/firewall.h"

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
  const int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return -1;
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
  close(fd);
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
    const int sub = openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0) throw BpfError("cannot open " + child + ": " + errstr(errno));
    try {
      hand_over_tree(sub, child, uid, gid);
    } catch (...) {
      close(sub);
      throw;
    }
    close(sub);
  }
}

}  // namespace

const std::vector<std::string>& firewall_shared_maps() {
  static const std::vector<std::string> names = {"fw_classifier", "xdp_stages", "events",
                                                 "fw_stats", "fw_pace"};
  return names;
}

const std::vector<std::string>& firewall_stat_names() {
  static const std::vector<std::string> names = {
      "seen",   "passed",         "dropped", "rejected",    "logged",
      "errors", "events_dropped", "not_ip",  "reject_sent", "blocklisted"};
  return names;
}

const std::vector<std::string>& tc_shared_maps() {
  static const std::vector<std::string> names = {"tc_ingress_stages", "tc_egress_stages",
                                                 "tc_stats"};
  return names;
}

InstanceSpec firewall_entry_spec(const std::string& object_path, bool default_deny) {
  InstanceSpec spec;
  spec.object_path = object_path;
  spec.program = "xdp_firewall";
  spec.settings["default_action"] = bytes_of(static_cast<uint32_t>(default_deny ? 1 : 0));
  // Every per-rule-set map must exist in the entry instance too; keep them tiny.
  for (const char* m :
       {"fw_src4_tbl16", "fw_src4_tbl8", "fw_dst4_tbl16", "fw_dst4_tbl8", "fw_src6", "fw_dst6",
        "fw_sport", "fw_dport", "fw_proto", "fw_vlan", "fw_bitmaps", "fw_rules", "fw_hits"}) {
    spec.maps.push_back({m, 1, 0, {}, {}});
  }
  return spec;
}

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
  for (const char* sub : {"", "/maps", "/progs", "/links", "/clsact"}) {
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
  const int root = open(pin_root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (root < 0) throw BpfError("cannot open " + pin_root + ": " + errstr(errno));
  try {
    if (fchown(root, uid, gid) != 0 || fchmod(root, 0700) != 0)
      throw BpfError("cannot hand " + pin_root + " over: " + errstr(errno));
    hand_over_tree(root, pin_root, uid, gid);
  } catch (...) {
    close(root);
    throw;
  }
  close(root);
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

Datapath::~Datapath() {
  // Deliberately no detach: pinned links keep filtering while rampartd is
  // down or being upgraded.
  for (auto& [name, fd] : shared_) close(fd);
  if (entry_fd_ >= 0) close(entry_fd_);
  for (int fd : tc_fd_) {
    if (fd >= 0) close(fd);
  }
}

std::string Datapath::object_path(const std::string& object) const {
  return opts_.bpf_dir + "/" + object + ".bpf.o";
}

void Datapath::load_or_adopt() {
  const std::string prog_pin = opts_.pin_root + "/progs/xdp_firewall";
  std::map<std::string, int> pinned;
  for (const auto& name : firewall_shared_maps()) {
    const int fd = bpf_obj_get((opts_.pin_root + "/maps/" + name).c_str());
    if (fd >= 0) pinned[name] = fd;
  }
  const int pinned_prog = bpf_obj_get(prog_pin.c_str());
  if (pinned.size() == firewall_shared_maps().size() && pinned_prog >= 0) {
    shared_ = std::move(pinned);
    entry_fd_ = pinned_prog;
    adopted_ = true;
    log::info(kLog, "adopted pinned programs and maps", {{"pin_root", opts_.pin_root}});
    return;
  }
  for (auto& [n, fd] : pinned) close(fd);
  if (pinned_prog >= 0) close(pinned_prog);

  // Fresh load: the entry instance creates the shared maps.
  const InstanceSpec spec = firewall_entry_spec(object_path("xdp_firewall"), opts_.default_deny);
  auto inst = ProgramInstance::load(spec);
  for (const auto& name : firewall_shared_maps()) {
    const int fd = dup(inst->map_fd(name));
    shared_[name] = fd;
    const std::string pin = opts_.pin_root + "/maps/" + name;
    unlink(pin.c_str());
    if (bpf_obj_pin(fd, pin.c_str()) != 0)
      throw BpfError("cannot pin " + pin + ": " + errstr(errno));
  }
  entry_fd_ = dup(inst->program_fd());
  unlink(prog_pin.c_str());
  if (bpf_obj_pin(entry_fd_, prog_pin.c_str()) != 0) {
    throw BpfError("cannot pin " + prog_pin + ": " + errstr(errno));
  }
  log::info(kLog, "loaded xdp_firewall",
            {{"object", spec.object_path}, {"pin_root", opts_.pin_root}});
}

// The TC dispatchers: adopted from their pins, or loaded (tc_ingress creates
// the stage arrays, tc_egress shares them) and pinned.
void Datapath::load_or_adopt_tc() {
  const char* progs[2] = {"tc_ingress", "tc_egress"};
  std::map<std::string, int> pinned;
  for (const auto& name : tc_shared_maps()) {
    const int fd = bpf_obj_get((opts_.pin_root + "/maps/" + name).c_str());
    if (fd >= 0) pinned[name] = fd;
  }
  int fds[2];
  for (int d = 0; d < 2; ++d) fds[d] = bpf_obj_get((opts_.pin_root + "/progs/" + progs[d]).c_str());
  if (pinned.size() == tc_shared_maps().size() && fds[0] >= 0 && fds[1] >= 0) {
    shared_.insert(pinned.begin(), pinned.end());
    tc_fd_[0] = fds[0];
    tc_fd_[1] = fds[1];
    return;
  }
  for (auto& [n, fd] : pinned) close(fd);
  for (int fd : fds) {
    if (fd >= 0) close(fd);
  }
  InstanceSpec spec;
  spec.object_path = object_path("tc_dispatch");
  for (int d = 0; d < 2; ++d) {
    spec.program = progs[d];
    auto inst = ProgramInstance::load(spec);
    if (d == 0) {
      for (const auto& name : tc_shared_maps()) {
        const int fd = dup(inst->map_fd(name));
        shared_[name] = fd;
        spec.shared_maps[name] = fd;
        const std::string pin = opts_.pin_root + "/maps/" + name;
        unlink(pin.c_str());
        if (bpf_obj_pin(fd, pin.c_str()) != 0)
          throw BpfError("cannot pin " + pin + ": " + errstr(errno));
      }
    }
    tc_fd_[d] = dup(inst->program_fd());
    const std::string pin = opts_.pin_root + "/progs/" + progs[d];
    unlink(pin.c_str());
    if (bpf_obj_pin(tc_fd_[d], pin.c_str()) != 0)
      throw BpfError("cannot pin " + pin + ": " + errstr(errno));
  }
  log::info(kLog, "loaded tc_dispatch", {{"object", spec.object_path}});
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
    LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = tc_fd_[d], .flags = BPF_TC_F_REPLACE,
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
  if (!adopted && bpf_obj_pin(tc_fd_[0], marker.c_str()) != 0) {
    log::warn(kLog, "cannot pin the TC marker; --detach-all will not find this interface",
              {{"interface", ifname}, {"error", errstr(errno)}});
  }
  log::info(kLog, adopted ? "adopted TC attachment" : "attached TC", {{"interface", ifname}});
  return adopted ? "adopted" : "clsact";
}

void Datapath::mark_clsact_created(const std::string& ifname) {
  const std::string marker = clsact_marker(opts_.pin_root, ifname);
  if (bpf_obj_pin(tc_fd_[0], marker.c_str()) != 0 && errno != EEXIST) {
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
      bpf_link_update(bpf_link__fd(link), entry_fd_, &uo);
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
    return bpf_link_create(entry_fd_, static_cast<int>(ifindex), BPF_XDP, &lo);
  };
  int fd = -1;
  if (opts_.xdp_mode == "native" || opts_.xdp_mode == "auto") {
    fd = try_mode(XDP_FLAGS_DRV_MODE);
    a.mode = "native";
  }
  if (fd < 0 && (opts_.xdp_mode == "generic" || opts_.xdp_mode == "auto")) {
    fd = try_mode(XDP_FLAGS_SKB_MODE);
    a.mode = "generic";
  }
  if (fd < 0) {
    a.mode = "error: " + errstr(errno);
    log::error(kLog, "cannot attach XDP",
               {{"interface", ifname}, {"mode", opts_.xdp_mode}, {"error", errstr(errno)}});
    attachments_.push_back(a);
    return;
  }
  if (bpf_obj_pin(fd, pin.c_str()) != 0) {
    log::warn(kLog, "cannot pin XDP link; filtering stops when rampartd exits",
              {{"interface", ifname}, {"error", errstr(errno)}});
  }
  close(fd);  // the pin holds the link
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
  load_or_adopt();
  load_or_adopt_tc();
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
  if (entry_fd_ >= 0) out.emplace_back("xdp_firewall", entry_fd_);
  if (tc_fd_[0] >= 0) out.emplace_back("tc_ingress", tc_fd_[0]);
  if (tc_fd_[1] >= 0) out.emplace_back("tc_egress", tc_fd_[1]);
  for (const auto& [slot, inst] : installed_) out.emplace_back(slot, inst->instance().program_fd());
  return out;
}

int Datapath::shared_map_fd(const std::string& name) const {
  const auto it = shared_.find(name);
  return it == shared_.end() ? -1 : it->second;
}

std::shared_ptr<InstalledProgram> Datapath::install(const std::string& object, InstanceSpec spec,
                                                    const std::string& slot, uint32_t index) {
  std::unique_lock lock(mu_);
  const auto me = std::this_thread::get_id();
  staging_done_.wait(lock, [&] { return !staging_ || staging_thread_ == me; });
  spec.object_path = object_path(object);
  spec.shared_maps = shared_;  // those the object declares are reused
  auto inst = std::make_shared<InstalledProgram>(ProgramInstance::load(spec));
  const int slot_fd = shared_map_fd(slot);
  if (slot_fd < 0) throw BpfError("no prog array " + slot);
  const std::string key = slot + "#" + std::to_string(index);
  if (staging_) {
    staged_[key] = {slot, index, inst};
    return inst;
  }
  const int prog_fd = inst->instance().program_fd();
  if (bpf_map_update_elem(slot_fd, &index, &prog_fd, BPF_ANY) != 0) {
    throw BpfError("installing " + spec.program + " in " + slot + ": " + errstr(errno));
  }
  installed_[key] = inst;
  return inst;
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
  // What each slot holds now, to put back if a later write fails.
  std::vector<std::pair<const Staged*, std::shared_ptr<InstalledProgram>>> written;
  auto restore = [&] {
    for (auto it = written.rbegin(); it != written.rend(); ++it) {
      const int slot_fd = shared_map_fd(it->first->slot);
      uint32_t index = it->first->index;
      if (it->second) {
        const int fd = it->second->instance().program_fd();
        bpf_map_update_elem(slot_fd, &index, &fd, BPF_ANY);
      } else {
        bpf_map_delete_elem(slot_fd, &index);
      }
    }
  };
  for (const auto& [key, st] : staged_) {
    const auto prev = installed_.find(key);
    const int slot_fd = shared_map_fd(st.slot);
    const int prog_fd = st.program->instance().program_fd();
    uint32_t index = st.index;
    if (bpf_map_update_elem(slot_fd, &index, &prog_fd, BPF_ANY) != 0) {
      const std::string why = errstr(errno);
      restore();
      throw BpfError("installing in " + key + ": " + why +
                     " (the reload's other programs were "
                     "taken back)");
    }
    written.emplace_back(&st, prev == installed_.end() ? nullptr : prev->second);
  }
  for (auto& [key, st] : staged_) installed_[key] = st.program;
  staged_.clear();
}

void Datapath::end_staging() {
  {
    std::lock_guard lock(mu_);
    staged_.clear();
    staging_ = false;
  }
  staging_done_.notify_all();
}

void Datapath::release(const std::shared_ptr<InstalledProgram>& program) {
  std::lock_guard lock(mu_);
  std::erase_if(staged_, [&](const auto& kv) { return kv.second.program == program; });
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
  const int ncpu = libbpf_num_possible_cpus();
  std::vector<uint64_t> v(ncpu > 0 ? ncpu : 1);
  if (bpf_map_lookup_elem(map_fd, &index, v.data()) != 0) return 0;
  uint64_t sum = 0;
  for (auto x : v) sum += x;
  return sum;
}

}  // namespace rampart::bpf
