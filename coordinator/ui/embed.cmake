# embed.cmake - writes OUT, a C file holding the web UI's FILES as byte
# arrays with their names and content types (coordinator/ui.c serves them).
# Run as cmake -DOUT=... -DFILES=a|b|c -P embed.cmake (| separates the
# files, as a ; would split the command line).
set(body "/* generated from coordinator/ui by coordinator/ui/embed.cmake */\n#include <stddef.h>\n")
set(table "")
set(i 0)
string(REPLACE "|" ";" FILES "${FILES}")
foreach(f IN LISTS FILES)
  get_filename_component(name ${f} NAME)
  get_filename_component(ext ${f} LAST_EXT)
  if(ext STREQUAL ".html")
    set(type "text/html; charset=utf-8")
  elseif(ext STREQUAL ".js")
    set(type "text/javascript; charset=utf-8")
  else()
    set(type "text/css; charset=utf-8")
  endif()
  file(READ ${f} hex HEX)
  string(LENGTH "${hex}" n)
  math(EXPR n "${n} / 2")
  string(REGEX REPLACE "(..)" "0x\\1," bytes "${hex}")
  string(APPEND body "static const unsigned char ui_${i}[] = {${bytes} 0};\n")
  string(APPEND table "    {\"${name}\", \"${type}\", ui_${i}, ${n}},\n")
  math(EXPR i "${i} + 1")
endforeach()
string(APPEND body "const struct coord_ui_asset {\n    const char *name, *type;\n"
       "    const unsigned char *data;\n    size_t len;\n} coord_ui_assets[] = {\n${table}"
       "    {NULL, NULL, NULL, 0},\n};\n")
file(WRITE ${OUT} "${body}")
