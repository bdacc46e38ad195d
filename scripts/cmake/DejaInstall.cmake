# DejaInstall.cmake -- what `cmake --install` puts under the prefix, and the
# names other projects use for deja's targets:
#   include/deja/*.h                  the public headers (rt.h, world.h, ...)
#   lib/libdeja_*.a                   the libraries
#   bin/deja, bin/deja-node           the tool and the reference node's daemon
#   share/deja/plots/*.gp             the plot scripts (found by `deja plot`
#                                     relative to the binary)
#   lib/pkgconfig/deja*.pc            pkg-config: deja (simulator + command
#                                     line), deja-real (production backend),
#                                     deja-reference (the reference node and
#                                     its scenarios)
#   lib/cmake/deja/                   find_package(deja): deja::sim, deja::cli,
#                                     deja::real, deja::node, deja::models,
#                                     deja::world, deja::check, deja::lab,
#                                     deja::common, deja::deja, deja::deja-node
# The same deja:: names exist as aliases in the build tree (CMakeLists.txt),
# for deja as a subproject (add_subdirectory or FetchContent), so a
# consumer's CMakeLists.txt reads the same either way. Included by the
# top-level CMakeLists.txt when DEJA_INSTALL is on.
include(CMakePackageConfigHelpers)

foreach(lib common world check lab sim cli real models node)
  set_target_properties(deja_${lib} PROPERTIES EXPORT_NAME ${lib})
endforeach()
set_target_properties(deja PROPERTIES EXPORT_NAME deja)
set_target_properties(deja-node PROPERTIES EXPORT_NAME deja-node)

set(DEJA_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/deja)
set(DEJA_PKGCONFIG_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

install(TARGETS deja_common deja_world deja_check deja_lab deja_sim deja_cli deja_real deja_models deja_node
                deja deja-node
        EXPORT dejaTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/sim/include/deja DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")
install(FILES ${DEJA_GEN_INCLUDE}/deja/version.h ${DEJA_GEN_INCLUDE}/deja/node.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/deja)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/plots/ DESTINATION ${CMAKE_INSTALL_DATADIR}/deja/plots
        FILES_MATCHING PATTERN "*.gp")

install(EXPORT dejaTargets NAMESPACE deja:: DESTINATION ${DEJA_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/scripts/cmake/dejaConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/cmake/dejaConfig.cmake
                              INSTALL_DESTINATION ${DEJA_CMAKE_DIR}
                              PATH_VARS CMAKE_INSTALL_DATADIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cmake/dejaConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/cmake/dejaConfig.cmake ${PROJECT_BINARY_DIR}/cmake/dejaConfigVersion.cmake
        DESTINATION ${DEJA_CMAKE_DIR})

# pkg-config files, relocatable: the prefix is found from the .pc file's
# own place (${pcfiledir}), so `cmake --install --prefix ANY` works.
file(RELATIVE_PATH DEJA_PC_TO_PREFIX /prefix/${DEJA_PKGCONFIG_DIR} /prefix)
string(REGEX REPLACE "/$" "" DEJA_PC_TO_PREFIX "${DEJA_PC_TO_PREFIX}")
set(DEJA_PC_SANITIZE "")
if(DEJA_SANITIZE)
  set(DEJA_PC_SANITIZE "-fsanitize=address,undefined")
endif()
# The simulator's binaries bind every symbol at load time, as deja::world's
# interface asks of CMake users (CMakeLists.txt: a lazily bound call saves
# the vector registers on a task's small stack). The production backend's
# tasks are threads with stacks of 256 KiB or more: deja-real needs no flag.
set(DEJA_PC_LINK_NOW "")
if(NOT APPLE)
  set(DEJA_PC_LINK_NOW "-Wl,-z,now")
endif()
foreach(pc deja deja-real deja-reference)
  configure_file(${PROJECT_SOURCE_DIR}/scripts/cmake/${pc}.pc.in ${PROJECT_BINARY_DIR}/pkgconfig/${pc}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/${pc}.pc DESTINATION ${DEJA_PKGCONFIG_DIR})
endforeach()
