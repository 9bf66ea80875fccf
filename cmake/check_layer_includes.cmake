# The layer rule read from the sources (ctest: layers.<layer>_includes_only_its_view).
# Every quote-include in ${SOURCE_DIR}/${LAYER}/ must name a folder in ALLOWED
# (the layer's view, from CMakeLists.txt), and none may climb with "../": the
# compiler would resolve that relative to the file, around the view.
# Usage: cmake -DLAYER=proto "-DALLOWED=base;proto" -DSOURCE_DIR=... -P this file
cmake_minimum_required(VERSION 3.20)
file(GLOB sources ${SOURCE_DIR}/${LAYER}/*.hpp ${SOURCE_DIR}/${LAYER}/*.cpp)
if(NOT sources)
  message(FATAL_ERROR "no sources in ${SOURCE_DIR}/${LAYER}")
endif()
set(bad "")
foreach(src ${sources})
  file(STRINGS ${src} includes REGEX "^[ \t]*#[ \t]*include[ \t]*\"")
  foreach(line ${includes})
    string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*\"([^\"]*)\".*" "\\1" path "${line}")
    string(REGEX MATCH "^[^/]*" folder "${path}")
    if(path MATCHES "(^|/)\\.\\./" OR NOT path MATCHES "/" OR NOT folder IN_LIST ALLOWED)
      file(RELATIVE_PATH rel ${SOURCE_DIR} ${src})
      string(APPEND bad "  ${rel}: #include \"${path}\"\n")
    endif()
  endforeach()
endforeach()
if(bad)
  message(FATAL_ERROR "${LAYER}/ may include only ${ALLOWED} (as \"folder/file\"):\n${bad}")
endif()
list(LENGTH sources n)
message(STATUS "${LAYER}/: ${n} files include only ${ALLOWED}")
