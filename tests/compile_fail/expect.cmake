# Runs one compile_fail case: cmake -DCXX=... -DINCLUDE=... -DSOURCE=...
# -DEXPECT=... -P expect.cmake. EXPECT "compiles" (a control case) must
# compile without a warning; anything else is a regular expression that
# the compiler's output must match, and the compilation must fail.
execute_process(COMMAND "${CXX}" -std=c++20 -fsyntax-only -Wall -Wextra -Wpedantic -Wshadow -Werror "-I${INCLUDE}"
                        "${SOURCE}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(EXPECT STREQUAL "compiles")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "control case does not compile cleanly:\n${out}")
  endif()
elseif(rc EQUAL 0)
  message(FATAL_ERROR "compiled, but must fail with '${EXPECT}'")
elseif(NOT out MATCHES "${EXPECT}")
  message(FATAL_ERROR "failed to compile, but not with '${EXPECT}':\n${out}")
endif()
