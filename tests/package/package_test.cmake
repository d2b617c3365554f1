# Packaging tests (ctest label "package"), run as
#   cmake -DMODE=<mode> -DSOURCE_DIR=... -DWORK_DIR=... [...] -P package_test.cmake
# by the entries tests/package/CMakeLists.txt registers. Every mode starts by
# deleting its own WORK_DIR (inside the build tree) and writes nowhere else.
#
# Modes:
#   install         configure sigkit (tests, examples, bench off), build,
#                   `cmake --install` into WORK_DIR/prefix and check the
#                   installed files one by one (the fixture of the next ones)
#   headers_only    the same with -DSIGKIT_BUILD_TOOLS=OFF: nothing is
#                   compiled, only headers and package files are installed
#   tools           the installed sigkit-run, sigkit-inspect and sigkit-parallel run as the
#                   README shows, and `man -l` renders their installed pages
#   find_package    the find_package/ consumer against that prefix
#   build_tree      the find_package/ consumer against the build tree export
#   add_subdirectory  the add_subdirectory/ consumer over SOURCE_DIR
#   fetch_content   the fetch_content/ consumer, fetching SOURCE_DIR's HEAD
#   fetch_content_source_dir  the same consumer with FetchContent's
#                   SOURCE_DIR pointing at SOURCE_DIR (a local tree, no git)
#   pkg_config      consumer.cpp compiled with `pkg-config --cflags --libs`
#   vcpkg           ports/sigkit/portfile.cmake run with stand-ins for the
#                   vcpkg helpers it calls, vcpkg's post-build checks that
#                   apply to a header-only port, then the find_package/
#                   consumer and pkg-config against the package directory
#
# Other inputs: GENERATOR, CXX_COMPILER, CXX_FLAGS, BUILD_TYPE (the build's own,
# so the consumers are compiled like the tests), VERSION (sigkit's
# PROJECT_VERSION), INSTALL_DIR (the install fixture's WORK_DIR),
# PKG_CONFIG (the pkg-config program).
cmake_minimum_required(VERSION 3.21)

foreach(var IN ITEMS MODE SOURCE_DIR WORK_DIR GENERATOR CXX_COMPILER VERSION)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "package_test.cmake: ${var} is not set")
  endif()
endforeach()

# run(<what> <command>...): runs a command, echoing it and its output; any
# failure fails the test with <what>.
function(run what)
  execute_process(COMMAND ${ARGN} COMMAND_ECHO STDOUT RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "FAIL: ${what} (exit status: ${result})")
  endif()
endfunction()

# The compiler, flags and generator of the build running the tests.
set(toolchain_args -G "${GENERATOR}" "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}" "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}"
                   "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}")
# Never let a sigkit registered by some other build satisfy find_package.
set(isolation_args -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)

# consumer(<dir> <cmake args>...): configures tests/package/<dir> into
# WORK_DIR/consumer, builds it and runs the program.
function(consumer dir)
  set(build "${WORK_DIR}/consumer")
  run("configure the ${dir} consumer" "${CMAKE_COMMAND}" -S "${SOURCE_DIR}/tests/package/${dir}" -B "${build}"
      ${toolchain_args} ${isolation_args} "-DEXPECT_VERSION=${VERSION}" ${ARGN})
  run("build the ${dir} consumer" "${CMAKE_COMMAND}" --build "${build}")
  run("run the ${dir} consumer" "${build}/consumer")
endfunction()

# check_pkg_config(<pcdir> <prefix>): pkg-config finds sigkit.pc in <pcdir>
# (and nowhere else), with this version and with -I<prefix>/include.
function(check_pkg_config pcdir prefix)
  if(NOT PKG_CONFIG)
    message(FATAL_ERROR "FAIL: pkg-config is not installed (apt-get install pkg-config)")
  endif()
  set(ENV{PKG_CONFIG_PATH} "${pcdir}")
  execute_process(COMMAND "${PKG_CONFIG}" --variable=pcfiledir sigkit OUTPUT_VARIABLE found
                  OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE result)
  if(NOT result EQUAL 0 OR NOT found STREQUAL pcdir)
    message(FATAL_ERROR "FAIL: pkg-config found sigkit.pc in '${found}' (status ${result}), expected '${pcdir}'")
  endif()
  execute_process(COMMAND "${PKG_CONFIG}" --modversion sigkit OUTPUT_VARIABLE modversion
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT modversion STREQUAL VERSION)
    message(FATAL_ERROR "FAIL: pkg-config --modversion sigkit says '${modversion}', expected '${VERSION}'")
  endif()
  execute_process(COMMAND "${PKG_CONFIG}" --cflags-only-I sigkit OUTPUT_VARIABLE include_flag
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  string(REGEX REPLACE "^-I" "" include_dir "${include_flag}")
  get_filename_component(include_dir "${include_dir}" REALPATH)
  get_filename_component(expected "${prefix}/include" REALPATH)
  if(NOT include_dir STREQUAL expected OR NOT EXISTS "${include_dir}/sigkit/sigkit.hpp")
    message(FATAL_ERROR "FAIL: pkg-config --cflags-only-I sigkit gives '${include_flag}', expected -I${expected}")
  endif()
  message(STATUS "pkg-config: sigkit ${modversion} from ${found}, -I${include_dir}")
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

if(MODE STREQUAL "install" OR MODE STREQUAL "headers_only")
  set(build "${WORK_DIR}/build")
  set(prefix "${WORK_DIR}/prefix")
  set(tools_args)
  if(MODE STREQUAL "headers_only")
    set(tools_args -DSIGKIT_BUILD_TOOLS=OFF)
  endif()
  run("configure sigkit" "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${build}" ${toolchain_args} ${isolation_args}
      -DSIGKIT_BUILD_TESTS=OFF -DSIGKIT_BUILD_EXAMPLES=OFF -DSIGKIT_BUILD_BENCH=OFF ${tools_args})
  run("build sigkit" "${CMAKE_COMMAND}" --build "${build}")
  run("install sigkit" "${CMAKE_COMMAND}" --install "${build}" --prefix "${prefix}")

  # Exactly these files: every public header, the three CMake package files
  # and the .pc file, and (unless turned off) the tools and their man pages.
  # Anything missing or extra fails.
  file(GLOB_RECURSE headers RELATIVE "${SOURCE_DIR}" "${SOURCE_DIR}/include/*.hpp")
  set(expected ${headers} share/sigkit/sigkitConfig.cmake share/sigkit/sigkitConfigVersion.cmake
               share/sigkit/sigkitTargets.cmake share/pkgconfig/sigkit.pc)
  if(MODE STREQUAL "install")
    list(APPEND expected bin/sigkit-run bin/sigkit-inspect bin/sigkit-parallel share/man/man1/sigkit-run.1
         share/man/man1/sigkit-inspect.1 share/man/man1/sigkit-parallel.1)
  endif()
  file(GLOB_RECURSE installed RELATIVE "${prefix}" "${prefix}/*")
  list(SORT expected)
  list(SORT installed)
  if(NOT installed STREQUAL expected)
    set(missing ${expected})
    list(REMOVE_ITEM missing ${installed})
    set(extra ${installed})
    list(REMOVE_ITEM extra ${expected})
    message(FATAL_ERROR "FAIL: installed files differ. Missing: '${missing}'. Unexpected: '${extra}'.")
  endif()
  foreach(required IN ITEMS include/sigkit/version.hpp include/sigkit/asio.hpp)
    if(NOT EXISTS "${prefix}/${required}")
      message(FATAL_ERROR "FAIL: ${required} is not installed")
    endif()
  endforeach()
  # ARCH_INDEPENDENT: a 32-bit consumer (CMAKE_SIZEOF_VOID_P 4) accepts the
  # package, as find_package() would evaluate the version file for it.
  function(check_any_architecture)
    set(CMAKE_SIZEOF_VOID_P 4)
    set(PACKAGE_FIND_NAME sigkit)
    set(PACKAGE_FIND_VERSION "${VERSION}")
    string(REPLACE "." ";" parts "${VERSION}")
    list(GET parts 0 PACKAGE_FIND_VERSION_MAJOR)
    include("${prefix}/share/sigkit/sigkitConfigVersion.cmake")
    if(NOT PACKAGE_VERSION_COMPATIBLE OR PACKAGE_VERSION_UNSUITABLE)
      message(FATAL_ERROR "FAIL: sigkitConfigVersion.cmake rejects a 32-bit consumer (not ARCH_INDEPENDENT)")
    endif()
  endfunction()
  check_any_architecture()
  file(READ "${prefix}/share/sigkit/sigkitConfig.cmake" config_file)
  if(NOT config_file MATCHES "find_dependency\\(Threads\\)")
    message(FATAL_ERROR "FAIL: sigkitConfig.cmake does not find_dependency(Threads)")
  endif()
  check_pkg_config("${prefix}/share/pkgconfig" "${prefix}")
  list(LENGTH installed count)
  message(STATUS "installed ${count} files into ${prefix}, as expected")

elseif(MODE STREQUAL "tools")
  # What the README's Install section shows for the tools, from the prefix.
  set(prefix "${INSTALL_DIR}/prefix")
  set(bin "${prefix}/bin")
  # expect_output(<what> <regex> <command>...): the command succeeds and its
  # standard output matches <regex>; nothing on standard error.
  function(expect_output what regex)
    execute_process(COMMAND ${ARGN} COMMAND_ECHO STDOUT RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
    message(STATUS "${out}")
    if(NOT result EQUAL 0 OR NOT out MATCHES "${regex}" OR NOT err STREQUAL "")
      message(FATAL_ERROR "FAIL: ${what}: exit status ${result}, stdout '${out}', stderr '${err}'")
    endif()
  endfunction()
  expect_output("sigkit-run --version" "^sigkit-run ${VERSION}\n$" "${bin}/sigkit-run" --version)
  expect_output("sigkit-inspect --version" "^sigkit-inspect ${VERSION}\n$" "${bin}/sigkit-inspect" --version)
  expect_output("sigkit-parallel --version" "^sigkit-parallel ${VERSION}\n$" "${bin}/sigkit-parallel" --version)
  # Two commands, one failing: exit 1, the other's output kept.
  execute_process(COMMAND "${bin}/sigkit-parallel" -j 2 -- "echo sigkit-parallel-ran" "exit 3" RESULT_VARIABLE result
                  OUTPUT_VARIABLE out ERROR_QUIET)
  if(NOT result EQUAL 1 OR NOT out MATCHES "sigkit-parallel-ran")
    message(FATAL_ERROR "FAIL: sigkit-parallel -j 2 -- 'echo ...' 'exit 3' gave ${result}, stdout '${out}'")
  endif()
  # The command's exit code and its death by a signal come back through it.
  execute_process(COMMAND "${bin}/sigkit-run" -- sh -c "exit 42" RESULT_VARIABLE result)
  if(NOT result EQUAL 42)
    message(FATAL_ERROR "FAIL: sigkit-run -- sh -c 'exit 42' gave ${result}")
  endif()
  execute_process(COMMAND "${bin}/sigkit-run" --shell-code -- sh -c "kill -TERM $$" RESULT_VARIABLE result)
  if(NOT result EQUAL 143)
    message(FATAL_ERROR "FAIL: sigkit-run --shell-code -- sh -c 'kill -TERM $$' gave ${result}")
  endif()
  # sigkit-inspect on sigkit-run's command: it ignores nothing, catches TERM.
  expect_output("sigkit-inspect of a command run by sigkit-run" "\n  caught +([^\n]* )?SIGTERM[ \n]" "${bin}/sigkit-run" --
                sh -c "trap 'exit 0' TERM && \"$0\" $$" "${bin}/sigkit-inspect")
  # The man pages, as `man` renders them (apt-get install man-db): by file,
  # and by name through the prefix's man directory.
  find_program(MAN_PROGRAM man)
  if(NOT MAN_PROGRAM)
    message(FATAL_ERROR "FAIL: man is not installed (apt-get install man-db)")
  endif()
  set(ENV{MANPAGER} cat)
  set(ENV{MANWIDTH} 80)
  set(ENV{LC_ALL} C)  # plain ASCII: \- renders as -, not as U+2212
  foreach(tool IN ITEMS sigkit-run sigkit-inspect sigkit-parallel)
    expect_output("man -l ${tool}.1" "NAME\n +${tool} +- .*OPTIONS.*--version" "${MAN_PROGRAM}" --warnings -l
                  "${prefix}/share/man/man1/${tool}.1")
    expect_output("man -M <prefix>/share/man ${tool}" "NAME\n +${tool} +- " "${MAN_PROGRAM}" -M "${prefix}/share/man" ${tool})
  endforeach()

elseif(MODE STREQUAL "find_package")
  consumer(find_package "-DCMAKE_PREFIX_PATH=${INSTALL_DIR}/prefix" "-DEXPECT_SIGKIT_DIR=${INSTALL_DIR}/prefix/share/sigkit")

elseif(MODE STREQUAL "build_tree")
  consumer(find_package "-Dsigkit_DIR=${INSTALL_DIR}/build" "-DEXPECT_SIGKIT_DIR=${INSTALL_DIR}/build")

elseif(MODE STREQUAL "add_subdirectory")
  consumer(add_subdirectory "-DSIGKIT_SOURCE_DIR=${SOURCE_DIR}")

elseif(MODE STREQUAL "fetch_content")
  find_program(GIT_EXECUTABLE git REQUIRED)
  execute_process(COMMAND "${GIT_EXECUTABLE}" rev-parse HEAD WORKING_DIRECTORY "${SOURCE_DIR}" OUTPUT_VARIABLE head
                  OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "FAIL: git rev-parse HEAD failed in ${SOURCE_DIR}")
  endif()
  execute_process(COMMAND "${GIT_EXECUTABLE}" status --porcelain --untracked-files=no WORKING_DIRECTORY "${SOURCE_DIR}"
                  OUTPUT_VARIABLE dirty)
  if(dirty)
    message(STATUS "note: FetchContent gets the committed HEAD ${head}; "
                   "the uncommitted changes in ${SOURCE_DIR} are not part of this test")
  endif()
  consumer(fetch_content "-DSIGKIT_GIT_REPOSITORY=file://${SOURCE_DIR}" "-DSIGKIT_GIT_TAG=${head}")

elseif(MODE STREQUAL "fetch_content_source_dir")
  consumer(fetch_content "-DSIGKIT_SOURCE_DIR=${SOURCE_DIR}")

elseif(MODE STREQUAL "pkg_config")
  set(prefix "${INSTALL_DIR}/prefix")
  check_pkg_config("${prefix}/share/pkgconfig" "${prefix}")
  execute_process(COMMAND "${PKG_CONFIG}" --cflags --libs sigkit OUTPUT_VARIABLE pc_flags
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  # Each flag once: "-pthread -pthread" (in Cflags and Libs both) was noise.
  string(REGEX MATCHALL "-pthread" pthreads "${pc_flags}")
  list(LENGTH pthreads pthread_count)
  if(NOT pthread_count EQUAL 1)
    message(FATAL_ERROR "FAIL: pkg-config --cflags --libs sigkit gives '${pc_flags}': -pthread ${pthread_count} times")
  endif()
  separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
  separate_arguments(cxx_flags UNIX_COMMAND "${CXX_FLAGS}")
  # What a Makefile user writes: c++ -std=c++20 $(pkg-config --cflags --libs sigkit)
  run("compile consumer.cpp with pkg-config's flags" "${CXX_COMPILER}" ${cxx_flags} -std=c++20
      "-DSIGKIT_EXPECTED_VERSION=\"${VERSION}\"" "${SOURCE_DIR}/tests/package/consumer.cpp" -o "${WORK_DIR}/consumer"
      ${pc_flags})
  run("run the pkg-config consumer" "${WORK_DIR}/consumer")

elseif(MODE STREQUAL "vcpkg")
  include("${CMAKE_CURRENT_LIST_DIR}/vcpkg_emulation.cmake")
  sigkit_emulate_vcpkg_port()

else()
  message(FATAL_ERROR "package_test.cmake: unknown MODE '${MODE}'")
endif()
message(STATUS "PASS: ${MODE}")
