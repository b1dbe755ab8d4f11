# rampart_add_bpf_object(<target> <name> SOURCE <file.bpf.c>
#                        [OUTPUT_DIRECTORY <dir>] [INCLUDE_DIRECTORIES <dir>...]
#                        [DEPENDS <file>...] [INSTALL_DESTINATION <dir>] [COMPONENT <c>])
#
# Builds a CO-RE kernel object <OUTPUT_DIRECTORY>/<name>.bpf.o with clang
# -target bpf -O2 -g against a vmlinux.h generated once from this machine's
# BTF (bpftool), with the SDK's BPF headers (rampart/bpf/chain.h, ...) on the
# include path. The target architecture comes from the toolchain
# (CMAKE_SYSTEM_PROCESSOR). rampartd finds a plugin's object beside its .so:
# build and install it into the plugin's directory.
include_guard(GLOBAL)

find_program(RAMPART_BPFTOOL bpftool PATHS /usr/sbin /sbin REQUIRED)
find_program(RAMPART_BPF_CLANG clang REQUIRED)

# The SDK's headers: sdk/include in the source tree, <prefix>/include once
# installed (this file is in <prefix>/share/cmake/RampartSDK).
# Cached: rampart_add_bpf_object() may be called from any directory.
if(EXISTS "${CMAKE_CURRENT_LIST_DIR}/../include/rampart/chain.h")
  get_filename_component(sdk_include "${CMAKE_CURRENT_LIST_DIR}/../include" ABSOLUTE)
else()
  get_filename_component(sdk_include "${CMAKE_CURRENT_LIST_DIR}/../../../include" ABSOLUTE)
endif()
set(RAMPART_BPF_SDK_INCLUDE_DIR "${sdk_include}" CACHE INTERNAL "")

function(rampart_bpf_target_arch out)
  string(TOLOWER "${CMAKE_SYSTEM_PROCESSOR}" p)
  if(p MATCHES "^(x86_64|amd64|i.86)$")
    set(arch x86)
  elseif(p MATCHES "^(aarch64|arm64)$")
    set(arch arm64)
  elseif(p MATCHES "^arm")
    set(arch arm)
  elseif(p MATCHES "^(ppc64|ppc64le|powerpc64)")
    set(arch powerpc)
  elseif(p MATCHES "^s390")
    set(arch s390)
  elseif(p MATCHES "^riscv")
    set(arch riscv)
  elseif(p MATCHES "^loongarch")
    set(arch loongarch)
  else()
    message(FATAL_ERROR "rampart_add_bpf_object: no BPF target for ${CMAKE_SYSTEM_PROCESSOR}")
  endif()
  set(${out} ${arch} PARENT_SCOPE)
endfunction()

# vmlinux.h, once per build tree.
if(NOT TARGET rampart_vmlinux)
  set(RAMPART_VMLINUX_DIR ${CMAKE_BINARY_DIR}/rampart-vmlinux CACHE INTERNAL "")
  add_custom_command(OUTPUT ${RAMPART_VMLINUX_DIR}/vmlinux.h
    COMMAND ${CMAKE_COMMAND} -E make_directory ${RAMPART_VMLINUX_DIR}
    COMMAND ${RAMPART_BPFTOOL} btf dump file /sys/kernel/btf/vmlinux format c
            > ${RAMPART_VMLINUX_DIR}/vmlinux.h.tmp
    COMMAND ${CMAKE_COMMAND} -E rename ${RAMPART_VMLINUX_DIR}/vmlinux.h.tmp
            ${RAMPART_VMLINUX_DIR}/vmlinux.h
    COMMENT "Generating vmlinux.h from /sys/kernel/btf/vmlinux")
  add_custom_target(rampart_vmlinux DEPENDS ${RAMPART_VMLINUX_DIR}/vmlinux.h)
endif()

function(rampart_add_bpf_object target name)
  cmake_parse_arguments(ARG "" "SOURCE;OUTPUT_DIRECTORY;INSTALL_DESTINATION;COMPONENT"
                        "INCLUDE_DIRECTORIES;DEPENDS" ${ARGN})
  if(NOT ARG_SOURCE)
    message(FATAL_ERROR "rampart_add_bpf_object(${target}): SOURCE is required")
  endif()
  get_filename_component(source ${ARG_SOURCE} ABSOLUTE)
  if(NOT ARG_OUTPUT_DIRECTORY)
    set(ARG_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  endif()
  rampart_bpf_target_arch(arch)
  set(obj ${ARG_OUTPUT_DIRECTORY}/${name}.bpf.o)
  set(includes -I${RAMPART_VMLINUX_DIR})
  foreach(dir ${ARG_INCLUDE_DIRECTORIES} ${RAMPART_BPF_SDK_INCLUDE_DIR})
    list(APPEND includes -I${dir})
  endforeach()
  file(GLOB_RECURSE sdk_headers ${RAMPART_BPF_SDK_INCLUDE_DIR}/rampart/*.h)
  add_custom_command(OUTPUT ${obj}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${ARG_OUTPUT_DIRECTORY}
    COMMAND ${RAMPART_BPF_CLANG} -target bpf -O2 -g -Wall -Werror -D__TARGET_ARCH_${arch}
            ${includes} -c ${source} -o ${obj}
    DEPENDS ${source} ${ARG_DEPENDS} ${sdk_headers} ${RAMPART_VMLINUX_DIR}/vmlinux.h
    COMMENT "BPF ${name}.bpf.o")
  add_custom_target(${target} ALL DEPENDS ${obj})
  add_dependencies(${target} rampart_vmlinux)
  set_target_properties(${target} PROPERTIES RAMPART_BPF_OBJECT ${obj})
  if(ARG_INSTALL_DESTINATION)
    if(NOT ARG_COMPONENT)
      set(ARG_COMPONENT Unspecified)
    endif()
    install(FILES ${obj} DESTINATION ${ARG_INSTALL_DESTINATION} COMPONENT ${ARG_COMPONENT})
  endif()
endfunction()
