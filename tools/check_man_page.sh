#!/bin/sh
# The man page checks of the tools' ctest entries:
#   check_man_page.sh render PAGE           PAGE renders with groff's man
#                                           macros without a warning
#   check_man_page.sh options PROGRAM PAGE  every option that `PROGRAM --help`
#                                           lists (the -x and --long words of
#                                           its indented option lines) is in
#                                           PAGE as rendered
# Exit 0 on success, 1 with the reason otherwise, 77 (skipped) without groff.
command -v groff >/dev/null 2>&1 || { echo "groff is not installed: skipped"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

case $1 in
  render)
    page=$2
    warnings=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
    [ -z "$warnings" ] || fail "groff warns about $page: $warnings"
    echo "PASS: $page renders without warnings"
    ;;
  options)
    program=$2 page=$3
    help=$("$program" --help) || fail "$program --help failed"
    # Rendered as plain ASCII (no bold/underline sequences), one very long
    # line per paragraph so that no option is hyphenated across lines.
    text=$(groff -man -Tascii -P-cbou -rLL=1000n "$page" 2>/dev/null) || fail "groff cannot render $page"
    options=$(printf '%s\n' "$help" | grep -E '^ +-' | grep -oE '(^|[ ,])--?[A-Za-z][-A-Za-z]*' | tr -d ' ,' | sort -u)
    [ -n "$options" ] || fail "found no option lines in $program --help"
    missing=
    for o in $options; do
      printf '%s\n' "$text" | grep -qE -- "(^|[^-A-Za-z])$o([^-A-Za-z]|\$)" || missing="$missing $o"
    done
    [ -z "$missing" ] || fail "$page does not document:$missing"
    echo "PASS: $page documents every option of --help:" $options
    ;;
  *)
    echo "usage: check_man_page.sh render PAGE | options PROGRAM PAGE" >&2
    exit 2
    ;;
esac
