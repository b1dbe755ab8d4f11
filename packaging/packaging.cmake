# Packages: `rampart` (daemon, built-in plugins, config, systemd unit, man
# pages, docs) with its debug symbols in `rampart-dbgsym`, and
# `rampart-sdk-dev` (plugin SDK headers, CMake package, guide and
# examples), as .deb and .rpm. The version is the project's (abi.h's
# major.minor, CMakeLists.txt).
set(RAMPART_MAINTAINER "Rampart maintainers <maintainers@rampart-agent.org>"
    CACHE STRING "The packages' maintainer (a distributor sets its own)")
install(FILES ${PROJECT_SOURCE_DIR}/config/rampart.yaml DESTINATION /etc/rampart COMPONENT rampart)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/systemd/rampart.service
        DESTINATION lib/systemd/system COMPONENT rampart)

# Generated: the changelog (native package: changelog.gz) and the man
# pages, with this version, compressed as Debian policy asks (gzip -9n).
set(pkg_out ${PROJECT_BINARY_DIR}/packaging)
set(RAMPART_ABI ${rampart_abi_major}.${rampart_abi_minor})
configure_file(${PROJECT_SOURCE_DIR}/packaging/changelog.in ${pkg_out}/changelog @ONLY)
configure_file(${PROJECT_SOURCE_DIR}/packaging/man/rampartd.8 ${pkg_out}/rampartd.8 @ONLY)
configure_file(${PROJECT_SOURCE_DIR}/packaging/man/rampartctl.8 ${pkg_out}/rampartctl.8 @ONLY)
set(pkg_gz "")
foreach(f changelog rampartd.8 rampartctl.8)
  add_custom_command(OUTPUT ${pkg_out}/${f}.gz
                     COMMAND gzip -9nc ${pkg_out}/${f} > ${pkg_out}/${f}.gz
                     DEPENDS ${pkg_out}/${f} VERBATIM)
  list(APPEND pkg_gz ${pkg_out}/${f}.gz)
endforeach()
add_custom_target(packaging_files ALL DEPENDS ${pkg_gz})
install(FILES ${pkg_out}/rampartd.8.gz ${pkg_out}/rampartctl.8.gz
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man8 COMPONENT rampart)
# The docs the unit's Documentation= and the man pages point to.
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/packaging/debian/copyright
              ${pkg_out}/changelog.gz
        DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/rampart COMPONENT rampart)
file(GLOB rampart_docs ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES ${rampart_docs} DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/rampart/docs
        COMPONENT rampart)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/debian/lintian-overrides
        DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides RENAME rampart COMPONENT rampart)
# The SDK's: its guide, the examples, copyright and changelog.
install(FILES ${PROJECT_SOURCE_DIR}/docs/plugin-sdk.md ${PROJECT_SOURCE_DIR}/packaging/debian/copyright
              ${pkg_out}/changelog.gz
        DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/rampart-sdk-dev COMPONENT sdk)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/sdk/examples/
        DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/rampart-sdk-dev/examples COMPONENT sdk)

set(CPACK_PACKAGE_NAME rampart)
set(CPACK_PACKAGE_VENDOR "Rampart developers")
set(CPACK_PACKAGE_CONTACT "${RAMPART_MAINTAINER}")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_RELOCATABLE OFF)
set(CPACK_PACKAGE_HOMEPAGE_URL "https://rampart-agent.org")
# Binaries and plugins stripped: in the .deb with their debug information
# split into the -dbgsym package (.ddeb), found by build id; in the RPM
# plainly. The BPF objects keep their symbols and BTF (cpack_project.cmake).
set(CPACK_PROJECT_CONFIG_FILE ${PROJECT_SOURCE_DIR}/packaging/cpack_project.cmake)
set(CPACK_COMPONENT_RAMPART_DESCRIPTION "eBPF network-security agent
Rampart protects a host's network interfaces from inside the kernel. XDP
programs drop, rate-limit and answer SYN floods at the earliest hook; TC
programs sample traffic for intrusion detection (Suricata rules on
Vectorscan and PCRE2). rampartd loads them, drains their ring buffers and
hands the events to plugins: engines (firewall, rate limit, DDoS, IDS,
IPS), alert senders (log, webhook, email) and API frontends (REST, gRPC,
Prometheus). Rules persist in SQLite and reach the kernel as they are
written; rampartctl manages them from a shell.")
set(CPACK_COMPONENT_SDK_DESCRIPTION "Rampart plugin SDK: headers and CMake package
Headers of Rampart's stable plugin ABI (C, with C++17 wrappers), the
RampartSDK CMake package with rampart_add_plugin() and
rampart_add_bpf_object(), the plugin author's guide and example engines,
to build engines, alert senders and API frontends that rampartd loads from
its plugin directory.")
set(CPACK_GENERATOR "DEB;RPM")
set(CPACK_COMPONENTS_ALL rampart sdk)
set(CPACK_OUTPUT_FILE_PREFIX ${CMAKE_BINARY_DIR}/packages)

# Debian
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_RAMPART_PACKAGE_NAME rampart)
set(CPACK_DEBIAN_RAMPART_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_RAMPART_DEBUGINFO_PACKAGE ON)
# postinst creates the agent's system user with adduser (Debian policy
# 9.2.2) and enables the unit with deb-systemd-helper (init-system-helpers
# is essential).
set(CPACK_DEBIAN_RAMPART_PACKAGE_DEPENDS adduser)
set(CPACK_DEBIAN_RAMPART_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/debian/conffiles
    ${PROJECT_SOURCE_DIR}/packaging/debian/postinst
    ${PROJECT_SOURCE_DIR}/packaging/debian/prerm
    ${PROJECT_SOURCE_DIR}/packaging/debian/postrm)
set(CPACK_DEBIAN_RAMPART_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_SDK_PACKAGE_NAME rampart-sdk-dev)
set(CPACK_DEBIAN_SDK_PACKAGE_ARCHITECTURE all)
set(CPACK_DEBIAN_SDK_PACKAGE_SECTION libdevel)
# What a plugin's build uses: CMake, a C++17 compiler, libbpf's headers
# for kernel objects (clang and bpftool compile them).
set(CPACK_DEBIAN_SDK_PACKAGE_DEPENDS "cmake (>= 3.20), g++ | clang, libbpf-dev")
set(CPACK_DEBIAN_SDK_PACKAGE_RECOMMENDS "clang, bpftool")

# RPM (rpmbuild from Debian's rpm package)
set(CPACK_RPM_COMPONENT_INSTALL ON)
set(CPACK_RPM_FILE_NAME RPM-DEFAULT)
set(CPACK_RPM_PACKAGE_LICENSE "Apache-2.0")
set(CPACK_RPM_PACKAGE_URL "${CPACK_PACKAGE_HOMEPAGE_URL}")
set(CPACK_RPM_PACKAGE_GROUP "System Environment/Daemons")
set(CPACK_RPM_CHANGELOG_FILE ${PROJECT_SOURCE_DIR}/packaging/rpm/changelog)
set(CPACK_RPM_SDK_PACKAGE_REQUIRES "cmake >= 3.20, libbpf-devel")
# The RPM's summary and description: the component description's first
# line, and the rest.
foreach(comp RAMPART SDK)
  string(FIND "${CPACK_COMPONENT_${comp}_DESCRIPTION}" "\n" nl)
  string(SUBSTRING "${CPACK_COMPONENT_${comp}_DESCRIPTION}" 0 ${nl} CPACK_RPM_${comp}_PACKAGE_SUMMARY)
  math(EXPR nl "${nl} + 1")
  string(SUBSTRING "${CPACK_COMPONENT_${comp}_DESCRIPTION}" ${nl} -1
         CPACK_RPM_${comp}_PACKAGE_DESCRIPTION)
endforeach()
# Self-contained (rpm/bundle.cmake): the libraries beyond the C and C++
# runtimes travel in /usr/lib/rampart/lib, found through RUNPATH; the
# package neither requires them from the system nor offers them to it.
set(CPACK_PRE_BUILD_SCRIPTS ${PROJECT_SOURCE_DIR}/packaging/rpm/bundle.cmake)
set(CPACK_RAMPART_RPM_BUNDLED_FILE ${PROJECT_BINARY_DIR}/packaging/rpm-bundled-sonames)
set(CPACK_RPM_RAMPART_PACKAGE_NAME rampart)
set(CPACK_RPM_SDK_PACKAGE_NAME rampart-sdk-devel)
set(CPACK_RPM_SDK_PACKAGE_ARCHITECTURE noarch)
set(CPACK_RPM_RAMPART_USER_FILELIST "%config(noreplace) /etc/rampart/rampart.yaml")
# The scriptlets do what the Debian maintainer scripts do, the RPM way
# (useradd in %pre; systemctl preset and try-restart, as %systemd_post and
# %systemd_postun do).
set(CPACK_RPM_RAMPART_PRE_INSTALL_SCRIPT_FILE ${PROJECT_SOURCE_DIR}/packaging/rpm/pre.sh)
set(CPACK_RPM_RAMPART_POST_INSTALL_SCRIPT_FILE ${PROJECT_SOURCE_DIR}/packaging/rpm/post.sh)
set(CPACK_RPM_RAMPART_PRE_UNINSTALL_SCRIPT_FILE ${PROJECT_SOURCE_DIR}/packaging/rpm/preun.sh)
set(CPACK_RPM_RAMPART_POST_UNINSTALL_SCRIPT_FILE ${PROJECT_SOURCE_DIR}/packaging/rpm/postun.sh)
set(CPACK_RPM_RAMPART_PACKAGE_REQUIRES_PRE shadow-utils)
set(CPACK_RPM_EXCLUDE_FROM_AUTO_FILELIST_ADDITION /etc /lib /lib/systemd /lib/systemd/system
    /usr/lib/systemd /usr/lib/systemd/system)
# BPF objects must keep their BTF: rpmbuild's strip would fail on (and
# damage) them.
set(CPACK_RPM_SPEC_MORE_DEFINE
    "%define _build_id_links none\n%define __strip /bin/true\n%define debug_package %{nil}\n%global __requires_exclude %(cat ${CPACK_RAMPART_RPM_BUNDLED_FILE} 2>/dev/null || echo '^$')\n%global __provides_exclude_from ^/usr/lib/rampart/.*$")

include(CPack)
cpack_add_component(rampart DISPLAY_NAME "Rampart agent" REQUIRED)
cpack_add_component(sdk DISPLAY_NAME "Rampart plugin SDK")
