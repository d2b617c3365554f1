# vcpkg overlay port for sigkit, built from the git checkout it lives in:
#
#   vcpkg install sigkit --overlay-ports=<checkout>/ports          (classic mode)
#   vcpkg install --overlay-ports=<checkout>/ports                 (manifest mode,
#                                         with "sigkit" in your vcpkg.json)
#
# It fetches the checkout's committed HEAD with vcpkg_from_git, as vcpkg does
# for any git repository: uncommitted changes are not built. vcpkg's binary
# cache keys on this port's files, not on the checkout, so after a new commit
# pass --no-binarycaching (or bump "port-version") to rebuild.
#
# For a registry, replace the two blocks that find the checkout with
#   vcpkg_from_github(OUT_SOURCE_PATH SOURCE_PATH REPO <owner>/sigkit
#                     REF "v${VERSION}" SHA512 <sha512 of that archive> HEAD_REF main)
#
# Tested without vcpkg by the ctest entry "package/vcpkg overlay port
# (emulated)" (tests/package/vcpkg_emulation.cmake).

set(VCPKG_BUILD_TYPE release)  # header-only: one configuration is all there is

get_filename_component(sigkit_checkout "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)
vcpkg_find_acquire_program(GIT)
execute_process(
  COMMAND "${GIT}" rev-parse HEAD
  WORKING_DIRECTORY "${sigkit_checkout}"
  OUTPUT_VARIABLE sigkit_ref
  OUTPUT_STRIP_TRAILING_WHITESPACE
  RESULT_VARIABLE sigkit_git_result)
if(NOT sigkit_git_result EQUAL 0)
  message(FATAL_ERROR "sigkit: ${sigkit_checkout} is not a git checkout with a commit to build")
endif()

vcpkg_from_git(
  OUT_SOURCE_PATH SOURCE_PATH
  URL "${sigkit_checkout}"
  REF "${sigkit_ref}")

vcpkg_cmake_configure(
  SOURCE_PATH "${SOURCE_PATH}"
  OPTIONS
    -DSIGKIT_BUILD_TESTS=OFF
    -DSIGKIT_BUILD_EXAMPLES=OFF
    -DSIGKIT_BUILD_BENCH=OFF
    # The port is the header-only library; the tools are installed from a
    # checkout (README, "Install").
    -DSIGKIT_BUILD_TOOLS=OFF
    -DSIGKIT_INSTALL_CMAKEDIR=share/sigkit
    # sigkit.pc has "Libs: -pthread"; vcpkg accepts such files only in lib/pkgconfig.
    -DSIGKIT_INSTALL_PKGCONFIGDIR=lib/pkgconfig)
vcpkg_cmake_install()
vcpkg_cmake_config_fixup(PACKAGE_NAME sigkit CONFIG_PATH share/sigkit)
vcpkg_fixup_pkgconfig()

file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/debug")  # nothing of a header-only port differs in debug
file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
