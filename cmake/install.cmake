# The installable C++ package: find_package(homotopt CONFIG) gives homotopt::homotopt. Kept out of the
# Python wheel (pyproject.toml installs only the "python" component).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS homotopt EXPORT homotoptTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY csrc/include/homotopt DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT homotoptTargets NAMESPACE homotopt:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/homotopt)

configure_package_config_file(cmake/homotoptConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/homotoptConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/homotopt)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/homotoptConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/homotoptConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/homotoptConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/homotopt)
