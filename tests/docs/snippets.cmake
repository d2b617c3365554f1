# Compiles every code block of a Markdown file that follows a marker line
#   <!-- snippet: NAME -->
# as its own translation unit (-fsyntax-only, warnings as errors), so the
# documentation's code cannot rot. Run by ctest (tests/docs/CMakeLists.txt):
#   cmake -DMARKDOWN=... -DWORK_DIR=... -DCXX_COMPILER=... -DCXX_FLAGS=...
#         -DINCLUDE_DIRS=dir1|dir2 [-DDEFINITIONS=A=1|B] -DEXPECT=N -P snippets.cmake
# EXPECT is how many snippets the file must hold (a marker that no longer
# matches a block must not pass silently).
cmake_minimum_required(VERSION 3.21)

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
# One list element per line: ';', '[' and ']' (which CMake lists treat
# specially) are swapped for placeholders and put back when writing.
file(READ "${MARKDOWN}" text)
string(REPLACE ";" "@SEMICOLON@" text "${text}")
string(REPLACE "[" "@LBRACKET@" text "${text}")
string(REPLACE "]" "@RBRACKET@" text "${text}")
string(REPLACE "\n" ";" lines "${text}")

set(name "")
set(in_block FALSE)
set(names)
foreach(line IN LISTS lines)
  if(in_block)
    if(line MATCHES "^```$")
      set(in_block FALSE)
      list(APPEND names "${name}")
      set(name "")
    else()
      string(REPLACE "@SEMICOLON@" ";" line "${line}")
      string(REPLACE "@LBRACKET@" "[" line "${line}")
      string(REPLACE "@RBRACKET@" "]" line "${line}")
      file(APPEND "${WORK_DIR}/${name}.cpp" "${line}\n")
    endif()
  elseif(line MATCHES "^<!-- snippet: ([a-z0-9-]+) -->$")
    set(name "${CMAKE_MATCH_1}")
  elseif(name AND line MATCHES "^```cpp$")
    set(in_block TRUE)
    file(WRITE "${WORK_DIR}/${name}.cpp" "")
  endif()
endforeach()

list(LENGTH names count)
if(NOT count EQUAL EXPECT)
  message(FATAL_ERROR "FAIL: ${MARKDOWN} has ${count} marked snippets (${names}), expected ${EXPECT}")
endif()

separate_arguments(flags UNIX_COMMAND "${CXX_FLAGS}")
string(REPLACE "|" ";" include_dirs "${INCLUDE_DIRS}")
string(REPLACE "|" ";" definitions "${DEFINITIONS}")
set(args)
foreach(dir IN LISTS include_dirs)
  list(APPEND args "-I${dir}")
endforeach()
foreach(def IN LISTS definitions)
  list(APPEND args "-D${def}")
endforeach()

set(failed)
foreach(snippet IN LISTS names)
  execute_process(
    COMMAND "${CXX_COMPILER}" ${flags} -std=c++20 -fsyntax-only ${args} "${WORK_DIR}/${snippet}.cpp"
    RESULT_VARIABLE result)
  if(result EQUAL 0)
    message(STATUS "snippet ${snippet}: compiles")
  else()
    message(STATUS "snippet ${snippet}: FAILS (${WORK_DIR}/${snippet}.cpp)")
    list(APPEND failed "${snippet}")
  endif()
endforeach()
if(failed)
  message(FATAL_ERROR "FAIL: snippets that do not compile: ${failed}")
endif()
message(STATUS "all ${count} snippets of ${MARKDOWN} compile")
