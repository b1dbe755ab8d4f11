# Emerging Threats Open rule files the IDS tests load whole and the rule
# fuzzer starts from (test data, kept outside the repository:
# ../shared/rules/et-open on the project machines). Sets RAMPART_ET_OPEN_DIR
# ("" when there are none).
set(RAMPART_ET_OPEN_DIR "" CACHE PATH "Directory of the ET Open rule files the IDS tests load")
if(NOT RAMPART_ET_OPEN_DIR)
  foreach(candidate "${PROJECT_SOURCE_DIR}/../shared/rules/et-open" "/work/shared/rules/et-open")
    if(EXISTS "${candidate}/emerging-scan.rules")
      get_filename_component(RAMPART_ET_OPEN_DIR "${candidate}" ABSOLUTE)
      break()
    endif()
  endforeach()
endif()
