# cgw_component(<target>): the settings every console-gw target shares.
# Warnings are errors only in CI-like builds (CGW_WERROR) so a newer compiler
# does not break a user's build.
option(CGW_WERROR "Treat warnings as errors" OFF)

function(cgw_defaults target)
  target_compile_features(${target} PUBLIC cxx_std_20)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor)
  if(CGW_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(CGW_SANITIZE)
    target_compile_options(${target} PUBLIC -fsanitize=address,undefined -fno-omit-frame-pointer)
    target_link_options(${target} PUBLIC -fsanitize=address,undefined)
  endif()
  # Asio: no deprecated interfaces, and the io_uring-free epoll reactor Debian builds with.
  target_compile_definitions(${target} PUBLIC BOOST_ASIO_NO_DEPRECATED)
endfunction()
