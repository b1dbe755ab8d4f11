# Packages: `rampart` (daemon, built-in plugins, config, systemd unit) and
# `rampart-sdk-dev` (plugin SDK headers and CMake package), as .deb and .rpm.
install(FILES ${PROJECT_SOURCE_DIR}/config/rampart.yaml DESTINATION /etc/rampart COMPONENT rampart)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/systemd/rampart.service
        DESTINATION lib/systemd/system COMPONENT rampart)

set(CPACK_PACKAGE_NAME rampart)
set(CPACK_PACKAGE_VENDOR "Rampart developers")
set(CPACK_PACKAGE_CONTACT "Rampart developers <rampart@localhost>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "eBPF network-security agent")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_RELOCATABLE OFF)
set(CPACK_GENERATOR "DEB;RPM")
set(CPACK_COMPONENTS_ALL rampart sdk)
set(CPACK_OUTPUT_FILE_PREFIX ${CMAKE_BINARY_DIR}/packages)

# Debian
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_RAMPART_PACKAGE_NAME rampart)
set(CPACK_DEBIAN_RAMPART_PACKAGE_SHLIBDEPS ON)
# postinst creates the agent's system user with adduser (Debian policy 9.2.2).
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

# RPM (rpmbuild from Debian's rpm package)
set(CPACK_RPM_COMPONENT_INSTALL ON)
set(CPACK_RPM_FILE_NAME RPM-DEFAULT)
set(CPACK_RPM_PACKAGE_LICENSE "Apache-2.0")
set(CPACK_RPM_RAMPART_PACKAGE_NAME rampart)
set(CPACK_RPM_SDK_PACKAGE_NAME rampart-sdk-devel)
set(CPACK_RPM_SDK_PACKAGE_ARCHITECTURE noarch)
set(CPACK_RPM_RAMPART_USER_FILELIST "%config(noreplace) /etc/rampart/rampart.yaml")
# The Debian maintainer scripts double as the scriptlets: each tells the
# two apart by its first argument (a number from RPM). Only the user is
# made differently (useradd in %pre, as RPM systems do).
set(CPACK_RPM_RAMPART_PRE_INSTALL_SCRIPT_FILE ${PROJECT_SOURCE_DIR}/packaging/rpm/pre.sh)
set(CPACK_RPM_RAMPART_POST_INSTALL_SCRIPT_FILE ${PROJECT_SOURCE_DIR}/packaging/debian/postinst)
set(CPACK_RPM_RAMPART_PRE_UNINSTALL_SCRIPT_FILE ${PROJECT_SOURCE_DIR}/packaging/debian/prerm)
set(CPACK_RPM_RAMPART_POST_UNINSTALL_SCRIPT_FILE ${PROJECT_SOURCE_DIR}/packaging/debian/postrm)
set(CPACK_RPM_RAMPART_PACKAGE_REQUIRES_PRE shadow-utils)
set(CPACK_RPM_EXCLUDE_FROM_AUTO_FILELIST_ADDITION /etc /lib /lib/systemd /lib/systemd/system
    /usr/lib/systemd /usr/lib/systemd/system)
# BPF objects must keep their BTF: rpmbuild's strip would fail on (and
# damage) them.
set(CPACK_RPM_SPEC_MORE_DEFINE "%define _build_id_links none\n%define __strip /bin/true")

include(CPack)
cpack_add_component(rampart DISPLAY_NAME "Rampart agent" REQUIRED)
cpack_add_component(sdk DISPLAY_NAME "Rampart plugin SDK")
