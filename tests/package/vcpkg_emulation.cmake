# Runs the overlay port ports/sigkit/portfile.cmake without vcpkg (which is not
# installable here), so that a broken port is caught by ctest.
#
# The vcpkg helpers the portfile calls are replaced by small stand-ins that do
# what vcpkg's do for a release-only, header-only port on x64-linux (written
# from vcpkg's documentation and sources; see the comment on each):
#   vcpkg_find_acquire_program(GIT)  find git
#   vcpkg_from_git                   git init; git fetch URL REF --depth 1 -n;
#                                    git archive REF; extract into buildtrees
#   vcpkg_cmake_configure            cmake with vcpkg's standard arguments,
#                                    Release into packages/, Debug into
#                                    packages/debug unless VCPKG_BUILD_TYPE is
#                                    release; fails on unused OPTIONS
#   vcpkg_cmake_install              build the install target of each
#   vcpkg_cmake_config_fixup         move CONFIG_PATH to share/<name>, make
#                                    every *.cmake there find its prefix two
#                                    levels up, drop debug/share
#   vcpkg_fixup_pkgconfig            absolute prefixes -> ${pcfiledir}
#                                    relative; pkg-config --exists
#   vcpkg_install_copyright          share/<port>/copyright
# Then the post-build checks of vcpkg that can apply to a header-only port,
# then a find_package() consumer and pkg-config against the package dir, the
# way a vcpkg user's project would see it (installed/<triplet> is the union
# of the packages/<port>_<triplet> directories).
#
# Uses the variables of package_test.cmake (SOURCE_DIR, WORK_DIR, VERSION,
# GENERATOR, CXX_COMPILER, PKG_CONFIG, run(), consumer(), check_pkg_config()).

set(PORT sigkit)
set(TARGET_TRIPLET x64-linux)
set(VCPKG_TARGET_ARCHITECTURE x64)
set(VCPKG_CMAKE_SYSTEM_NAME Linux)
set(VCPKG_TARGET_IS_LINUX ON)
set(VCPKG_LIBRARY_LINKAGE static)  # the x64-linux triplet's
set(VCPKG_ROOT_DIR "${WORK_DIR}/vcpkg")
set(DOWNLOADS "${VCPKG_ROOT_DIR}/downloads")
set(CURRENT_BUILDTREES_DIR "${VCPKG_ROOT_DIR}/buildtrees/${PORT}")
set(CURRENT_PACKAGES_DIR "${VCPKG_ROOT_DIR}/packages/${PORT}_${TARGET_TRIPLET}")
set(CURRENT_INSTALLED_DIR "${VCPKG_ROOT_DIR}/installed/${TARGET_TRIPLET}")
set(CURRENT_PORT_DIR "${SOURCE_DIR}/ports/${PORT}")

function(vcpkg_find_acquire_program program)
  if(NOT program STREQUAL "GIT")
    message(FATAL_ERROR "emulation: vcpkg_find_acquire_program(${program}) is not emulated")
  endif()
  find_program(GIT NAMES git REQUIRED)
  set(GIT "${GIT}" PARENT_SCOPE)
endfunction()

function(vcpkg_from_git)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "OUT_SOURCE_PATH;URL;REF;HEAD_REF" "PATCHES")
  if(DEFINED arg_UNPARSED_ARGUMENTS OR arg_PATCHES)
    message(FATAL_ERROR "emulation: vcpkg_from_git(${ARGN}) uses arguments that are not emulated")
  endif()
  foreach(required IN ITEMS OUT_SOURCE_PATH URL REF)
    if(NOT arg_${required})
      message(FATAL_ERROR "vcpkg_from_git: ${required} must be specified")
    endif()
  endforeach()
  find_program(GIT NAMES git REQUIRED)
  set(git_dir "${DOWNLOADS}/git-tmp")
  set(archive "${DOWNLOADS}/${PORT}-${arg_REF}.tar.gz")
  file(MAKE_DIRECTORY "${DOWNLOADS}")
  run("vcpkg_from_git: git init" "${GIT}" init -q "${git_dir}")
  run("vcpkg_from_git: fetch ${arg_REF} from ${arg_URL}" "${GIT}" -C "${git_dir}" fetch "${arg_URL}" "${arg_REF}"
      --depth 1 -n)
  execute_process(COMMAND "${GIT}" -C "${git_dir}" rev-parse "${arg_REF}" OUTPUT_VARIABLE fetched
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT fetched STREQUAL arg_REF)
    message(FATAL_ERROR "vcpkg_from_git: REF (${arg_REF}) does not match the fetched commit (${fetched}); "
                        "REF must be a full commit id")
  endif()
  run("vcpkg_from_git: git archive" "${GIT}" -C "${git_dir}" -c core.autocrlf=false archive "${arg_REF}" -o
      "${archive}")
  string(SUBSTRING "${arg_REF}" 0 10 short_ref)
  set(source "${CURRENT_BUILDTREES_DIR}/src/${short_ref}.clean")
  file(MAKE_DIRECTORY "${source}")
  run("vcpkg_from_git: extract" "${CMAKE_COMMAND}" -E chdir "${source}" "${CMAKE_COMMAND}" -E tar xf "${archive}")
  set(${arg_OUT_SOURCE_PATH} "${source}" PARENT_SCOPE)
endfunction()

function(vcpkg_cmake_configure)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "SOURCE_PATH" "OPTIONS;OPTIONS_RELEASE;OPTIONS_DEBUG;MAYBE_UNUSED_VARIABLES")
  if(DEFINED arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "emulation: vcpkg_cmake_configure(${ARGN}) uses arguments that are not emulated")
  endif()
  # What vcpkg_cmake_configure passes that matters to a CMake project (its
  # toolchain file aside): relative install dirs are enforced, registries off.
  set(vcpkg_args
      -DBUILD_SHARED_LIBS=OFF
      -DCMAKE_INSTALL_LIBDIR:STRING=lib
      -DCMAKE_INSTALL_BINDIR:STRING=bin
      -DCMAKE_ERROR_ON_ABSOLUTE_INSTALL_DESTINATION=ON
      -DCMAKE_EXPORT_NO_PACKAGE_REGISTRY=ON
      -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON
      -DCMAKE_FIND_PACKAGE_NO_SYSTEM_PACKAGE_REGISTRY=ON
      "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
  set(manually_specified)
  foreach(option IN LISTS arg_OPTIONS arg_OPTIONS_RELEASE arg_OPTIONS_DEBUG)
    if(option MATCHES "^-D([^:=]*)[:=]")
      list(APPEND manually_specified "${CMAKE_MATCH_1}")
    endif()
  endforeach()
  set(configs release)
  if(NOT VCPKG_BUILD_TYPE STREQUAL "release")
    list(APPEND configs debug)
  endif()
  set(build_dirs)
  foreach(config IN LISTS configs)
    if(config STREQUAL "release")
      set(dir "${CURRENT_BUILDTREES_DIR}/${TARGET_TRIPLET}-rel")
      set(config_args ${arg_OPTIONS_RELEASE} -DCMAKE_BUILD_TYPE=Release "-DCMAKE_INSTALL_PREFIX=${CURRENT_PACKAGES_DIR}")
    else()
      set(dir "${CURRENT_BUILDTREES_DIR}/${TARGET_TRIPLET}-dbg")
      set(config_args ${arg_OPTIONS_DEBUG} -DCMAKE_BUILD_TYPE=Debug
                      "-DCMAKE_INSTALL_PREFIX=${CURRENT_PACKAGES_DIR}/debug")
    endif()
    file(REMOVE_RECURSE "${dir}")
    execute_process(
      COMMAND "${CMAKE_COMMAND}" -S "${arg_SOURCE_PATH}" -B "${dir}" -G "${GENERATOR}" ${arg_OPTIONS} ${config_args}
              ${vcpkg_args} COMMAND_ECHO STDOUT
      OUTPUT_VARIABLE out
      ERROR_VARIABLE out
      RESULT_VARIABLE result)
    message("${out}")
    if(NOT result EQUAL 0)
      message(FATAL_ERROR "FAIL: vcpkg_cmake_configure (${config}) failed")
    endif()
    # vcpkg warns about OPTIONS the project does not use; here it is an error.
    if(out MATCHES "Manually-specified variables were not used by the project:\n\n((    [^\n]*\n)*)")
      string(STRIP "${CMAKE_MATCH_1}" unused)
      string(REPLACE "\n    " ";" unused "${unused}")
      foreach(variable IN LISTS unused)
        if(variable IN_LIST manually_specified AND NOT variable IN_LIST arg_MAYBE_UNUSED_VARIABLES)
          message(FATAL_ERROR "FAIL: the port passes -D${variable}, which sigkit's CMakeLists.txt does not use")
        endif()
      endforeach()
    endif()
    list(APPEND build_dirs "${dir}")
  endforeach()
  set_property(GLOBAL PROPERTY sigkit_vcpkg_build_dirs "${build_dirs}")
endfunction()

function(vcpkg_cmake_install)
  get_property(build_dirs GLOBAL PROPERTY sigkit_vcpkg_build_dirs)
  if(NOT build_dirs)
    message(FATAL_ERROR "vcpkg_cmake_install: vcpkg_cmake_configure was not called")
  endif()
  foreach(dir IN LISTS build_dirs)
    run("vcpkg_cmake_install (${dir})" "${CMAKE_COMMAND}" --build "${dir}" --target install)
  endforeach()
endfunction()

# Rewrites the prefix computation of a generated *.cmake file for a file that
# lives two directories below the prefix (share/<name>/), as vcpkg does.
function(z_sigkit_two_levels_up file)
  file(READ "${file}" contents)
  set(up [[get_filename_component(_IMPORT_PREFIX "${_IMPORT_PREFIX}" PATH)]])
  string(REGEX REPLACE
         "get_filename_component\\(_IMPORT_PREFIX \"\\\${CMAKE_CURRENT_LIST_FILE}\" PATH\\)(\nget_filename_component\\(_IMPORT_PREFIX \"\\\${_IMPORT_PREFIX}\" PATH\\))*"
         "get_filename_component(_IMPORT_PREFIX \"\${CMAKE_CURRENT_LIST_FILE}\" PATH)\n${up}\n${up}" contents
         "${contents}")
  string(REGEX REPLACE
         "get_filename_component\\(PACKAGE_PREFIX_DIR \"\\\${CMAKE_CURRENT_LIST_DIR}/\\.\\./(\\.\\./)*\" ABSOLUTE\\)"
         "get_filename_component(PACKAGE_PREFIX_DIR \"\${CMAKE_CURRENT_LIST_DIR}/../../\" ABSOLUTE)" contents
         "${contents}")
  string(REPLACE "${CURRENT_PACKAGES_DIR}" "\${_IMPORT_PREFIX}" contents "${contents}")
  file(WRITE "${file}" "${contents}")
endfunction()

function(vcpkg_cmake_config_fixup)
  cmake_parse_arguments(PARSE_ARGV 0 arg "DO_NOT_DELETE_PARENT_CONFIG_PATH" "PACKAGE_NAME;CONFIG_PATH" "")
  if(NOT arg_PACKAGE_NAME)
    set(arg_PACKAGE_NAME "${PORT}")
  endif()
  if(NOT arg_CONFIG_PATH)
    set(arg_CONFIG_PATH "share/${arg_PACKAGE_NAME}")
  endif()
  set(share "${CURRENT_PACKAGES_DIR}/share/${arg_PACKAGE_NAME}")
  if(NOT arg_CONFIG_PATH STREQUAL "share/${arg_PACKAGE_NAME}")
    set(from "${CURRENT_PACKAGES_DIR}/${arg_CONFIG_PATH}")
    if(NOT EXISTS "${from}")
      message(FATAL_ERROR "FAIL: vcpkg_cmake_config_fixup: '${from}' does not exist")
    endif()
    file(GLOB files "${from}/*")
    file(COPY ${files} DESTINATION "${share}")
    file(REMOVE_RECURSE "${from}")
    get_filename_component(parent "${from}" DIRECTORY)
    get_filename_component(parent_name "${parent}" NAME)
    if(parent_name STREQUAL "cmake" AND NOT arg_DO_NOT_DELETE_PARENT_CONFIG_PATH)
      file(REMOVE_RECURSE "${parent}")
    endif()
  endif()
  if(NOT VCPKG_BUILD_TYPE STREQUAL "release")
    # Debug configs are dropped (a header-only port has no debug targets file).
    file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/debug/${arg_CONFIG_PATH}" "${CURRENT_PACKAGES_DIR}/debug/share")
  endif()
  file(GLOB_RECURSE cmake_files "${share}/*.cmake")
  foreach(file IN LISTS cmake_files)
    z_sigkit_two_levels_up("${file}")
  endforeach()
endfunction()

function(vcpkg_fixup_pkgconfig)
  file(GLOB_RECURSE pc_files "${CURRENT_PACKAGES_DIR}/*.pc")
  list(FILTER pc_files EXCLUDE REGEX "^${CURRENT_PACKAGES_DIR}/debug/")
  foreach(file IN LISTS pc_files)
    get_filename_component(dir "${file}" DIRECTORY)
    file(RELATIVE_PATH up "${dir}" "${CURRENT_PACKAGES_DIR}")
    string(REGEX REPLACE "/$" "" up "${up}")
    file(READ "${file}" contents)
    string(REPLACE "${CURRENT_PACKAGES_DIR}" "\${prefix}" contents "${contents}")
    string(REGEX REPLACE "(^|\n)prefix=\\\${prefix}" "\\1prefix=\${pcfiledir}/${up}" contents "${contents}")
    file(WRITE "${file}" "${contents}")
    get_filename_component(name "${file}" NAME_WE)
    set(ENV{PKG_CONFIG_PATH} "${CURRENT_PACKAGES_DIR}/lib/pkgconfig:${CURRENT_PACKAGES_DIR}/share/pkgconfig")
    run("vcpkg_fixup_pkgconfig: pkg-config --exists ${name}" "${PKG_CONFIG}" --print-errors --exists "${name}")
  endforeach()
endfunction()

function(vcpkg_install_copyright)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "" "FILE_LIST")
  if(NOT arg_FILE_LIST)
    message(FATAL_ERROR "vcpkg_install_copyright: FILE_LIST must be specified")
  endif()
  set(text "")
  foreach(file IN LISTS arg_FILE_LIST)
    file(READ "${file}" part)
    string(APPEND text "${part}")
  endforeach()
  file(WRITE "${CURRENT_PACKAGES_DIR}/share/${PORT}/copyright" "${text}")
endfunction()

# vcpkg's post-build checks that can fire for a header-only port.
function(z_sigkit_vcpkg_post_build_checks)
  set(pkg "${CURRENT_PACKAGES_DIR}")
  set(problems)
  file(GLOB_RECURSE headers "${pkg}/include/*")
  if(NOT headers)
    list(APPEND problems "include/ is missing or empty")
  endif()
  if(NOT EXISTS "${pkg}/share/${PORT}/copyright")
    list(APPEND problems "share/${PORT}/copyright is missing")
  endif()
  foreach(dir IN ITEMS debug/include debug/share lib/cmake debug/lib/cmake)
    if(EXISTS "${pkg}/${dir}")
      list(APPEND problems "${dir}/ must not exist")
    endif()
  endforeach()
  file(GLOB top_files LIST_DIRECTORIES false "${pkg}/*" "${pkg}/debug/*")
  if(top_files)
    list(APPEND problems "files directly in the package or debug/ directory: ${top_files}")
  endif()
  # .pc files: lib/pkgconfig or debug/lib/pkgconfig; share/pkgconfig only
  # for files without Libs (they are arch-independent).
  file(GLOB_RECURSE pc_files RELATIVE "${pkg}" "${pkg}/*.pc")
  foreach(pc IN LISTS pc_files)
    get_filename_component(dir "${pc}" DIRECTORY)
    file(STRINGS "${pkg}/${pc}" libs REGEX "^Libs(\\.private)?:[ ]*[^ ]")
    if(dir STREQUAL "lib/pkgconfig" OR dir STREQUAL "debug/lib/pkgconfig")
      continue()
    elseif(dir STREQUAL "share/pkgconfig" AND NOT libs)
      continue()
    endif()
    list(APPEND problems "misplaced pkg-config file ${pc}")
  endforeach()
  # No empty directories.
  file(GLOB_RECURSE dirs LIST_DIRECTORIES true "${pkg}/*")
  foreach(dir IN LISTS dirs)
    if(IS_DIRECTORY "${dir}")
      file(GLOB contents "${dir}/*")
      if(NOT contents)
        list(APPEND problems "empty directory ${dir}")
      endif()
    endif()
  endforeach()
  # No absolute paths into vcpkg's trees (packages, buildtrees, downloads,
  # installed) or into the checkout: the package must be relocatable.
  file(GLOB_RECURSE files "${pkg}/*")
  foreach(file IN LISTS files)
    file(READ "${file}" contents)
    foreach(path IN ITEMS "${VCPKG_ROOT_DIR}" "${SOURCE_DIR}")
      string(FIND "${contents}" "${path}" at)
      if(NOT at EQUAL -1)
        list(APPEND problems "${file} contains the absolute path ${path}")
      endif()
    endforeach()
  endforeach()
  if(problems)
    list(JOIN problems "\n  " problems)
    message(FATAL_ERROR "FAIL: vcpkg post-build checks:\n  ${problems}")
  endif()
  message(STATUS "vcpkg post-build checks: none fired")
endfunction()

# The port's manifest and the developers' manifest.
function(z_sigkit_check_manifests)
  file(READ "${CURRENT_PORT_DIR}/vcpkg.json" port_json)
  string(JSON port_name GET "${port_json}" name)
  string(JSON port_version GET "${port_json}" version)
  string(JSON supports GET "${port_json}" supports)
  if(NOT port_name STREQUAL PORT OR NOT port_version STREQUAL VERSION OR NOT supports STREQUAL "!windows")
    message(FATAL_ERROR "FAIL: ports/sigkit/vcpkg.json: name '${port_name}', version '${port_version}', supports "
                        "'${supports}'; expected '${PORT}', '${VERSION}', '!windows'")
  endif()
  string(JSON count LENGTH "${port_json}" dependencies)
  set(host_deps)
  math(EXPR last "${count} - 1")
  foreach(i RANGE ${last})
    string(JSON dep_name GET "${port_json}" dependencies ${i} name)
    string(JSON dep_host GET "${port_json}" dependencies ${i} host)
    if(dep_host)
      list(APPEND host_deps "${dep_name}")
    endif()
  endforeach()
  foreach(required IN ITEMS vcpkg-cmake vcpkg-cmake-config)
    if(NOT required IN_LIST host_deps)
      message(FATAL_ERROR "FAIL: ports/sigkit/vcpkg.json: ${required} must be a host dependency")
    endif()
  endforeach()
  file(READ "${SOURCE_DIR}/vcpkg.json" dev_json)
  string(JSON dev_name GET "${dev_json}" name)
  string(JSON dev_version GET "${dev_json}" version)
  if(NOT dev_name STREQUAL PORT OR NOT dev_version STREQUAL VERSION)
    message(FATAL_ERROR "FAIL: vcpkg.json: name '${dev_name}', version '${dev_version}'; expected '${PORT}', "
                        "'${VERSION}'")
  endif()
endfunction()

function(sigkit_emulate_vcpkg_port)
  z_sigkit_check_manifests()
  # vcpkg runs a portfile in script mode, as this is.
  include("${CURRENT_PORT_DIR}/portfile.cmake")
  z_sigkit_vcpkg_post_build_checks()

  # The usage file must say what the consumer below does.
  file(READ "${CURRENT_PACKAGES_DIR}/share/${PORT}/usage" usage)
  foreach(line IN ITEMS "find_package(sigkit CONFIG REQUIRED)" "target_link_libraries(main PRIVATE sigkit::sigkit)")
    string(FIND "${usage}" "${line}" at)
    if(at EQUAL -1)
      message(FATAL_ERROR "FAIL: ports/sigkit/usage does not say '${line}'")
    endif()
  endforeach()
  message("usage:\n${usage}")

  consumer(find_package "-DCMAKE_PREFIX_PATH=${CURRENT_PACKAGES_DIR}"
           "-DEXPECT_SIGKIT_DIR=${CURRENT_PACKAGES_DIR}/share/sigkit")
  check_pkg_config("${CURRENT_PACKAGES_DIR}/lib/pkgconfig" "${CURRENT_PACKAGES_DIR}")
endfunction()
