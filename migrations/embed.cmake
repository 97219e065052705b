# Writes OUT: a C++ source holding every migration's SQL, so the binaries
# migrate without the source tree. Called with -DSRC_DIR=... -DOUT=...
file(GLOB ups RELATIVE ${SRC_DIR} ${SRC_DIR}/[0-9][0-9][0-9][0-9]_*.up.sql)
list(SORT ups)
set(body "")
foreach(up IN LISTS ups)
  string(REGEX REPLACE "\\.up\\.sql$" "" name ${up})
  string(SUBSTRING ${name} 0 4 version)
  # "0008" would be an (invalid) octal literal in C++.
  math(EXPR version "${version}")
  string(SUBSTRING ${name} 5 -1 title)
  file(READ ${SRC_DIR}/${up} up_sql)
  file(READ ${SRC_DIR}/${name}.down.sql down_sql)
  string(APPEND body "  {${version}, \"${title}\", R\"fila_sql(${up_sql})fila_sql\", R\"fila_sql(${down_sql})fila_sql\"},\n")
endforeach()
file(WRITE ${OUT}.tmp "// Generated from migrations/*.sql by embed.cmake; do not edit.\n#include \"fila/migrations.h\"\n\nnamespace fila {\n\nconst std::vector<Migration>& Migrations() {\n  static const std::vector<Migration> kAll{\n${body}  };\n  return kAll;\n}\n\n}  // namespace fila\n")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
