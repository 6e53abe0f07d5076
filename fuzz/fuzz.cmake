# libFuzzer targets (docs/HARDENING.md, "Fuzzing"). Included from the top-level
# CMakeLists.txt when TOLLGATE_FUZZ is on (Clang only), in its directory scope
# so that the generated sources (tokenizer vocabularies, embedded data) have
# their rules here.
#
# The targets link only the component libraries they exercise
# (cmake/components.cmake), compiled with
# -fsanitize=fuzzer-no-link,address,undefined (set globally with
# TOLLGATE_FUZZ): building them takes a fraction of the whole core's build.
set(TOLLGATE_FUZZ_LIBS tollgate_providers tollgate_tokenizer tollgate_cache tollgate_usage tollgate_http)

# One executable per target: fuzz/<name>_fuzzer.cc, seeds in fuzz/corpus/<name>/.
set(TOLLGATE_FUZZ_TARGETS http_request request_json sse_stream usage config importer)
foreach(_name ${TOLLGATE_FUZZ_TARGETS})
  add_executable(${_name}_fuzzer ${CMAKE_SOURCE_DIR}/fuzz/${_name}_fuzzer.cc)
  target_link_libraries(${_name}_fuzzer PRIVATE ${TOLLGATE_FUZZ_LIBS})
  target_link_options(${_name}_fuzzer PRIVATE -fsanitize=fuzzer)
endforeach()
add_custom_target(fuzz_targets)
foreach(_name ${TOLLGATE_FUZZ_TARGETS})
  add_dependencies(fuzz_targets ${_name}_fuzzer)
endforeach()
