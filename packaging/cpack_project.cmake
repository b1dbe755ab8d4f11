# CPACK_PROJECT_CONFIG_FILE: read by CPack for each generator it runs.
if(CPACK_GENERATOR STREQUAL "DEB")
  # CPackDeb splits the debug information into rampart-dbgsym and strips
  # what it split (so the files reach it unstripped); eBPF objects are
  # left whole (debian/file-for-cpack.sh).
  set(CPACK_STRIP_FILES OFF)
  set(FILE_EXECUTABLE "${CMAKE_CURRENT_LIST_DIR}/debian/file-for-cpack.sh")
  # Each package's synopsis is the first line of its component's
  # description: CPackDeb puts the project's summary in front of it unless
  # that summary is CPack's default.
  set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${CPACK_DEFAULT_PACKAGE_DESCRIPTION_SUMMARY}")
elseif(CPACK_GENERATOR STREQUAL "RPM")
  # No debuginfo package for the RPM: its binaries go stripped.
  set(CPACK_STRIP_FILES ON)
endif()
