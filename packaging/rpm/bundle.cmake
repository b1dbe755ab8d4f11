# CPack pre-build script (CPACK_PRE_BUILD_SCRIPTS): makes the RPM's
# staging tree self-contained. Every shared library rampartd, rampartctl
# and the plugins need beyond the C and C++ runtimes (glibc, libstdc++,
# libgcc_s) is copied into /usr/lib/rampart/lib, each ELF file's RUNPATH
# points there, and the sonames bundled are written where the spec's
# __requires_exclude reads them, so the package requires only what every
# RPM distribution has. The .deb keeps Debian's shared libraries (this
# script does nothing for other generators).
cmake_policy(VERSION 3.20)  # IN_LIST, whatever scope CPack runs this in
if(NOT CPACK_GENERATOR STREQUAL "RPM")
  return()
endif()
set(root "${CPACK_TEMPORARY_INSTALL_DIRECTORY}/rampart")
if(NOT EXISTS "${root}/usr/sbin/rampartd")
  message(FATAL_ERROR "bundle: no usr/sbin/rampartd under ${root}")
endif()
find_program(PATCHELF patchelf REQUIRED)
set(libdir "${root}/usr/lib/rampart/lib")
file(MAKE_DIRECTORY "${libdir}")

# The C and C++ runtimes stay the system's.
set(base_re "^(linux-vdso|ld-linux|libc|libm|libpthread|libdl|librt|libresolv|libutil|libanl|libstdc\\+\\+|libgcc_s)\\.so")

file(GLOB plugins "${root}/usr/lib/rampart/plugins/*.so")
set(programs "${root}/usr/sbin/rampartd" "${root}/usr/bin/rampartctl")
set(bundled "")
foreach(elf IN LISTS programs plugins)
  execute_process(COMMAND ldd "${elf}" OUTPUT_VARIABLE out RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "bundle: ldd ${elf} failed")
  endif()
  string(REPLACE "\n" ";" lines "${out}")
  foreach(line IN LISTS lines)
    if(line MATCHES "not found")
      message(FATAL_ERROR "bundle: ${elf}: ${line}")
    endif()
    if(NOT line MATCHES "^[ \t]*([^ \t]+) => (/[^ \t]+)")
      continue()
    endif()
    set(soname "${CMAKE_MATCH_1}")
    set(path "${CMAKE_MATCH_2}")
    if(soname MATCHES "${base_re}")
      continue()
    endif()
    if(NOT soname IN_LIST bundled)
      list(APPEND bundled "${soname}")
      file(REAL_PATH "${path}" real)
      file(COPY_FILE "${real}" "${libdir}/${soname}")
      file(CHMOD "${libdir}/${soname}" PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
    endif()
  endforeach()
endforeach()

# Bundled libraries find each other beside themselves; the programs and
# plugins find them from where they are installed.
foreach(soname IN LISTS bundled)
  execute_process(COMMAND ${PATCHELF} --set-rpath "\$ORIGIN" "${libdir}/${soname}"
                  COMMAND_ERROR_IS_FATAL ANY)
endforeach()
foreach(elf IN LISTS programs)
  execute_process(COMMAND ${PATCHELF} --set-rpath "\$ORIGIN/../lib/rampart/lib" "${elf}"
                  COMMAND_ERROR_IS_FATAL ANY)
endforeach()
foreach(elf IN LISTS plugins)
  execute_process(COMMAND ${PATCHELF} --set-rpath "\$ORIGIN/../lib" "${elf}"
                  COMMAND_ERROR_IS_FATAL ANY)
endforeach()

# For the spec: requirements on bundled sonames are left out (the package
# brings them), and nothing bundled is offered to the system as provided.
list(SORT bundled)
set(alternatives "")
foreach(soname IN LISTS bundled)
  string(REGEX REPLACE "([.+])" "[\\1]" quoted "${soname}")  # "." as "[.]": no escapes
  list(APPEND alternatives "${quoted}")
endforeach()
list(JOIN alternatives "|" joined)
file(WRITE "${CPACK_RAMPART_RPM_BUNDLED_FILE}" "^(${joined})")
list(LENGTH bundled n)
message(STATUS "bundle: ${n} shared libraries in /usr/lib/rampart/lib")
