# Install rules and package files for the header-only target (included by the
# top-level CMakeLists.txt unless CMAKE_SKIP_INSTALL_RULES is set).
#
# Layout (relative to the install prefix; everything is arch-independent):
#   include/sigkit/*.hpp                     the headers (asio.hpp included)
#   share/sigkit/sigkitConfig.cmake          find_package(sigkit CONFIG)
#   share/sigkit/sigkitConfigVersion.cmake   SameMajorVersion, ARCH_INDEPENDENT
#   share/sigkit/sigkitTargets.cmake         the exported sigkit::sigkit
#   share/pkgconfig/sigkit.pc                pkg-config (relocatable)
# share/<name>/ is where find_package looks on every platform and where
# vcpkg_cmake_config_fixup() expects a port's config, so the vcpkg port needs
# no fixup beyond the defaults (ports/sigkit/portfile.cmake).
include(CMakePackageConfigHelpers)
include(GNUInstallDirs)

set(SIGKIT_INSTALL_CMAKEDIR
    "${CMAKE_INSTALL_DATADIR}/sigkit"
    CACHE STRING "Where sigkitConfig.cmake is installed, relative to the prefix")
set(SIGKIT_INSTALL_PKGCONFIGDIR
    "${CMAKE_INSTALL_DATADIR}/pkgconfig"
    CACHE STRING "Where sigkit.pc is installed, relative to the prefix")
mark_as_advanced(SIGKIT_INSTALL_CMAKEDIR SIGKIT_INSTALL_PKGCONFIGDIR)

install(
  DIRECTORY "${PROJECT_SOURCE_DIR}/include/"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
  COMPONENT sigkit_Development)

install(TARGETS sigkit EXPORT sigkitTargets)
install(
  EXPORT sigkitTargets
  NAMESPACE sigkit::
  DESTINATION "${SIGKIT_INSTALL_CMAKEDIR}"
  COMPONENT sigkit_Development)

configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/sigkitConfig.cmake.in" "${PROJECT_BINARY_DIR}/install/sigkitConfig.cmake"
  INSTALL_DESTINATION "${SIGKIT_INSTALL_CMAKEDIR}")
# The version file is written once, in the build tree (see CMakeLists.txt).
install(
  FILES "${PROJECT_BINARY_DIR}/install/sigkitConfig.cmake" "${PROJECT_BINARY_DIR}/sigkitConfigVersion.cmake"
  DESTINATION "${SIGKIT_INSTALL_CMAKEDIR}"
  COMPONENT sigkit_Development)

# pkg-config: prefix is found from the .pc file's own location (${pcfiledir}),
# so the file stays right after `cmake --install --prefix`, DESTDIR or a move.
if(IS_ABSOLUTE "${SIGKIT_INSTALL_PKGCONFIGDIR}")
  set(sigkit_pc_prefix "${CMAKE_INSTALL_PREFIX}")
else()
  set(sigkit_pc_prefix "\${pcfiledir}")  # one ".." per component: share/pkgconfig -> ${pcfiledir}/../..
  string(REGEX MATCHALL "[^/]+" sigkit_pc_parts "${SIGKIT_INSTALL_PKGCONFIGDIR}")
  foreach(part IN LISTS sigkit_pc_parts)
    string(APPEND sigkit_pc_prefix "/..")
  endforeach()
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(sigkit_pc_includedir "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(sigkit_pc_includedir "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file("${PROJECT_SOURCE_DIR}/cmake/sigkit.pc.in" "${PROJECT_BINARY_DIR}/install/sigkit.pc" @ONLY)
install(
  FILES "${PROJECT_BINARY_DIR}/install/sigkit.pc"
  DESTINATION "${SIGKIT_INSTALL_PKGCONFIGDIR}"
  COMPONENT sigkit_Development)
