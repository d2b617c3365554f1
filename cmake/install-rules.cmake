# Install rules for the header-only target. Packaging (config files, export,
# pkg-config) is completed in this file; see issue "sigkit for its users".
include(GNUInstallDirs)
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
