# Tokenizer vocabularies, fetched at build time and compiled into tollgate_tokenizer
# (src/tokenizer/README.md). Include after the components are defined.
#
# 1. `npm ci` of tests/tokenizer/package.json (js-tiktoken and gpt-tokenizer at
#    the versions and hashes pinned in package-lock.json) into
#    ${CMAKE_BINARY_DIR}/tokenizer_npm. The same tree serves the corpus test
#    and the benchmark. Set TOLLGATE_TOKENIZER_NPM_DIR to a directory that
#    already holds such a node_modules (e.g. tests/tokenizer after `npm ci`)
#    to build without the registry.
# 2. scripts/gen_tokenizer_vocab.mjs turns js-tiktoken's ranks into
#    ${CMAKE_BINARY_DIR}/tokenizer_vocab_data.cc.

find_program(TOLLGATE_NODE node REQUIRED)
set(TOLLGATE_TOKENIZER_NPM_DIR "" CACHE PATH
    "Directory with node_modules/js-tiktoken; empty: npm ci into the build tree")

set(_tok_pkg ${CMAKE_SOURCE_DIR}/tests/tokenizer/package.json)
set(_tok_lock ${CMAKE_SOURCE_DIR}/tests/tokenizer/package-lock.json)
if(TOLLGATE_TOKENIZER_NPM_DIR)
  set(TOLLGATE_TOKENIZER_MODULES ${TOLLGATE_TOKENIZER_NPM_DIR})
  set(_tok_stamp ${TOLLGATE_TOKENIZER_NPM_DIR}/node_modules/js-tiktoken/package.json)
else()
  find_program(TOLLGATE_NPM npm REQUIRED)
  set(TOLLGATE_TOKENIZER_MODULES ${CMAKE_BINARY_DIR}/tokenizer_npm)
  set(_tok_stamp ${TOLLGATE_TOKENIZER_MODULES}/npm-ci.stamp)
  add_custom_command(
    OUTPUT ${_tok_stamp}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${TOLLGATE_TOKENIZER_MODULES}
    COMMAND ${CMAKE_COMMAND} -E copy ${_tok_pkg} ${_tok_lock} ${TOLLGATE_TOKENIZER_MODULES}
    COMMAND ${TOLLGATE_NPM} ci --no-audit --no-fund --loglevel=error
    COMMAND ${CMAKE_COMMAND} -E touch ${_tok_stamp}
    WORKING_DIRECTORY ${TOLLGATE_TOKENIZER_MODULES}
    DEPENDS ${_tok_pkg} ${_tok_lock}
    COMMENT "Fetching js-tiktoken (tokenizer vocabularies) from the npm registry"
    VERBATIM)
endif()

set(TOLLGATE_TOKENIZER_VOCAB_CC ${CMAKE_BINARY_DIR}/tokenizer_vocab_data.cc)
add_custom_command(
  OUTPUT ${TOLLGATE_TOKENIZER_VOCAB_CC}
  COMMAND ${TOLLGATE_NODE} ${CMAKE_SOURCE_DIR}/scripts/gen_tokenizer_vocab.mjs
          --modules ${TOLLGATE_TOKENIZER_MODULES} --out ${TOLLGATE_TOKENIZER_VOCAB_CC}
  DEPENDS ${_tok_stamp} ${CMAKE_SOURCE_DIR}/scripts/gen_tokenizer_vocab.mjs
  COMMENT "Generating tokenizer vocabularies"
  VERBATIM)
target_sources(tollgate_tokenizer PRIVATE ${TOLLGATE_TOKENIZER_VOCAB_CC})
