# cgw_component(<target>): the settings every console-gw target shares.
# Warnings are errors only in CI-like builds (CGW_WERROR) so a newer compiler
# does not break a user's build.
option(CGW_WERROR "Treat warnings as errors" OFF)

function(cgw_defaults target)
  target_compile_features(${target} PUBLIC cxx_std_20)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor)
  # GCC 12 reports every coroutine frame Asio frees straight to the allocator
  # (no recycling cache, below) as a mismatched new/delete: its bug 109224, a
  # false positive. ASan's alloc-dealloc-mismatch check still runs in CI.
  target_compile_options(${target} PRIVATE $<$<CXX_COMPILER_ID:GNU>:-Wno-mismatched-new-delete>)
  if(CGW_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(CGW_SANITIZE)
    target_compile_options(${target} PUBLIC -fsanitize=address,undefined -fno-omit-frame-pointer)
    target_link_options(${target} PUBLIC -fsanitize=address,undefined)
  endif()
  # Asio: no deprecated interfaces, and the io_uring-free epoll reactor Debian builds with.
  # No per-thread cache of freed coroutine frames and handlers: Asio hands a
  # cached block to the next allocation it fits, however much larger, so an
  # idle console's long-lived frames sat in blocks freed by the set-up's bigger
  # ones (1.7 KiB of 8 per idle session). glibc's own per-thread cache serves
  # these sizes as fast, exactly sized (docs/benchmarks.md, bench/changes.md).
  # PUBLIC: it changes Asio's per-thread state, so every target must agree.
  target_compile_definitions(${target} PUBLIC BOOST_ASIO_NO_DEPRECATED
                                              BOOST_ASIO_RECYCLING_ALLOCATOR_CACHE_SIZE=0)
endfunction()

# cgw_headers(<target> <PUBLIC|PRIVATE> [<folder>]): the headers of one folder
# (default: the current one), included as "<folder-path>/name.hpp" relative to
# the project root, and nothing else of the tree. Each target sees only its own
# headers and those of the targets it links, so the layering is the build's,
# not a convention: an include of a component the target does not link fails
# to compile. The folder is reached through a symbolic link in the build tree,
# so edits to a header need no reconfigure.
cmake_path(GET CMAKE_CURRENT_LIST_DIR PARENT_PATH CGW_SOURCE_ROOT)
function(cgw_headers target scope)
  if(ARGC GREATER 2)
    set(folder ${ARGV2})
  else()
    set(folder ${CMAKE_CURRENT_SOURCE_DIR})
  endif()
  cmake_path(RELATIVE_PATH folder BASE_DIRECTORY ${CGW_SOURCE_ROOT} OUTPUT_VARIABLE relative)
  set(root ${CMAKE_BINARY_DIR}/cgw-include/${target})
  cmake_path(GET relative PARENT_PATH parent)
  file(MAKE_DIRECTORY ${root}/${parent})
  file(CREATE_LINK ${folder} ${root}/${relative} SYMBOLIC)
  target_include_directories(${target} ${scope} $<BUILD_INTERFACE:${root}>)
endfunction()
