# The API reference: `cmake --build <build> --target docs` runs Doxygen
# (Debian: doxygen) over the public headers, README.md, docs/migrating.md and docs/sigkit-run.md
# into <build>/docs/html. Any Doxygen warning fails it (WARN_AS_ERROR =
# FAIL_ON_WARNINGS), and the ctest entry "docs/doxygen ..." (tests/docs/)
# runs the same, so CI keeps the reference warning-free. Included by the
# top-level CMakeLists.txt when sigkit is the top-level project.
find_package(Doxygen QUIET)
if(NOT DOXYGEN_FOUND)
  message(STATUS "sigkit: Doxygen not found (apt-get install doxygen); no docs target")
  return()
endif()

set(SIGKIT_DOCS_OUTPUT_DIR "${PROJECT_BINARY_DIR}/docs")
configure_file("${PROJECT_SOURCE_DIR}/docs/Doxyfile.in" "${SIGKIT_DOCS_OUTPUT_DIR}/Doxyfile" @ONLY)
add_custom_target(
  docs
  COMMAND Doxygen::doxygen "${SIGKIT_DOCS_OUTPUT_DIR}/Doxyfile"
  WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}"
  COMMENT "Doxygen: API reference in ${SIGKIT_DOCS_OUTPUT_DIR}/html"
  VERBATIM)
