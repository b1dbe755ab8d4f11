# rampart_add_plugin(<target> [OUTPUT_NAME <id>] SOURCES <src>...)
#
# Builds a Rampart plugin: a MODULE library with no "lib" prefix, hidden
# symbols (only rampart_plugin_entry is exported), no undefined symbols (a
# plugin reaches the host only through the host-services table) and the SDK
# headers on its include path.
function(rampart_add_plugin target)
  cmake_parse_arguments(ARG "" "OUTPUT_NAME" "SOURCES" ${ARGN})
  add_library(${target} MODULE ${ARG_SOURCES})
  if(TARGET RampartSDK::sdk)
    target_link_libraries(${target} PRIVATE RampartSDK::sdk)
  else()
    target_link_libraries(${target} PRIVATE rampart_sdk)
  endif()
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    CXX_VISIBILITY_PRESET hidden
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(ARG_OUTPUT_NAME)
    set_target_properties(${target} PROPERTIES OUTPUT_NAME ${ARG_OUTPUT_NAME})
  endif()
  target_link_options(${target} PRIVATE -Wl,-z,defs)
endfunction()
