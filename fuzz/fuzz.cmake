# libFuzzer targets (docs/HARDENING.md, "Fuzzing"). Included from the top-level
# CMakeLists.txt when TOLLGATE_FUZZ is on (Clang only), in its directory scope
# so that the generated sources (tokenizer vocabularies, embedded data) have
# their rules here.
#
# The targets link a library of only the components they exercise, compiled
# with -fsanitize=fuzzer-no-link,address,undefined (set globally with
# TOLLGATE_FUZZ): building it takes a fraction of tollgate_core's build. A
# static library pulls in only the objects a target references.
file(GLOB TOLLGATE_FUZZ_CORE_SOURCES CONFIGURE_DEPENDS
  ${CMAKE_SOURCE_DIR}/src/common/*.cc
  ${CMAKE_SOURCE_DIR}/src/config/*.cc
  ${CMAKE_SOURCE_DIR}/src/pricing/*.cc
  ${CMAKE_SOURCE_DIR}/src/providers/*.cc
  ${CMAKE_SOURCE_DIR}/src/tokenizer/*.cc)
list(APPEND TOLLGATE_FUZZ_CORE_SOURCES
  ${CMAKE_SOURCE_DIR}/src/cache/cache_key.cc
  ${CMAKE_SOURCE_DIR}/src/usage/importer.cc
  ${CMAKE_SOURCE_DIR}/src/http/wire.cc
  ${CMAKE_SOURCE_DIR}/src/http/deadline.cc
  ${CMAKE_BINARY_DIR}/embedded_data.cc
  ${TOLLGATE_TOKENIZER_VOCAB_CC})
add_library(tollgate_fuzz_core STATIC EXCLUDE_FROM_ALL ${TOLLGATE_FUZZ_CORE_SOURCES})
target_include_directories(tollgate_fuzz_core PUBLIC ${CMAKE_SOURCE_DIR}/src)
target_precompile_headers(tollgate_fuzz_core PRIVATE ${TOLLGATE_PCH_HEADERS})  # as tollgate_core's sources are built
get_target_property(_tollgate_defs tollgate_core INTERFACE_COMPILE_DEFINITIONS)
target_compile_definitions(tollgate_fuzz_core PUBLIC ${_tollgate_defs})
target_link_libraries(tollgate_fuzz_core PUBLIC
  Threads::Threads OpenSSL::SSL OpenSSL::Crypto SQLite::SQLite3 yaml-cpp)

# One executable per target: fuzz/<name>_fuzzer.cc, seeds in fuzz/corpus/<name>/.
set(TOLLGATE_FUZZ_TARGETS http_request request_json sse_stream usage config importer)
foreach(_name ${TOLLGATE_FUZZ_TARGETS})
  add_executable(${_name}_fuzzer ${CMAKE_SOURCE_DIR}/fuzz/${_name}_fuzzer.cc)
  target_link_libraries(${_name}_fuzzer PRIVATE tollgate_fuzz_core)
  target_link_options(${_name}_fuzzer PRIVATE -fsanitize=fuzzer)
endforeach()
add_custom_target(fuzz_targets)
foreach(_name ${TOLLGATE_FUZZ_TARGETS})
  add_dependencies(fuzz_targets ${_name}_fuzzer)
endforeach()
