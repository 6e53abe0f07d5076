# Build step of cmake/components.cmake: fails if a file of src/COMPONENT
# includes a header of a component outside ALLOWED (comma-separated: the
# component itself and everything it links, transitively). Writes STAMP on
# success.
string(REPLACE "," ";" ALLOWED "${ALLOWED}")
file(GLOB _files ${DIR}/*.h ${DIR}/*.cc)
set(_bad "")
foreach(_f ${_files})
  file(STRINGS ${_f} _lines REGEX "^[ \t]*#[ \t]*include[ \t]+\"[a-z_]+/")
  foreach(_l ${_lines})
    string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]+\"([a-z_]+)/.*" "\\1" _c "${_l}")
    list(FIND ALLOWED "${_c}" _i)
    if(_i EQUAL -1)
      get_filename_component(_n ${_f} NAME)
      string(APPEND _bad "  src/${COMPONENT}/${_n}: ${_l}\n")
    endif()
  endforeach()
endforeach()
if(_bad)
  message(FATAL_ERROR "Layering: src/${COMPONENT} may include only ${ALLOWED} (cmake/components.cmake), but:\n${_bad}"
                      "Fix: move the code to the right layer, or declare the dependency in cmake/components.cmake.")
endif()
file(WRITE ${STAMP} "ok\n")
