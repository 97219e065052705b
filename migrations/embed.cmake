# Writes OUT: a C++ source holding every migration's SQL, so the binaries
# migrate without the source tree. Reads CORE_DIR/NNNN_name.up.sql and
# EXTENSIONS_DIR/<kind>/migrations/NNNN_name.up.sql (each with its
# .down.sql) and orders them by version, whichever folder holds them; two
# files of one version are an error. Called with -DCORE_DIR=...
# -DEXTENSIONS_DIR=... -DOUT=...
file(GLOB ups ${CORE_DIR}/[0-9][0-9][0-9][0-9]_*.up.sql
     ${EXTENSIONS_DIR}/*/migrations/[0-9][0-9][0-9][0-9]_*.up.sql)
set(keyed "")
foreach(up IN LISTS ups)
  get_filename_component(file ${up} NAME)
  string(SUBSTRING ${file} 0 4 version)
  if(DEFINED seen_${version})
    message(FATAL_ERROR "migration ${version} twice: ${seen_${version}} and ${up}")
  endif()
  set(seen_${version} ${up})
  list(APPEND keyed "${version}|${up}")
endforeach()
list(SORT keyed)
set(body "")
foreach(entry IN LISTS keyed)
  string(REGEX REPLACE "^[0-9]+\\|" "" up ${entry})
  get_filename_component(file ${up} NAME)
  string(REGEX REPLACE "\\.up\\.sql$" "" name ${file})
  string(REGEX REPLACE "\\.up\\.sql$" ".down.sql" down ${up})
  if(NOT EXISTS ${down})
    message(FATAL_ERROR "${up} has no ${down}")
  endif()
  string(SUBSTRING ${name} 0 4 version)
  # "0008" would be an (invalid) octal literal in C++.
  math(EXPR version "${version}")
  string(SUBSTRING ${name} 5 -1 title)
  file(READ ${up} up_sql)
  file(READ ${down} down_sql)
  string(APPEND body "  {${version}, \"${title}\", R\"fila_sql(${up_sql})fila_sql\", R\"fila_sql(${down_sql})fila_sql\"},\n")
endforeach()
file(WRITE ${OUT}.tmp "// Generated from migrations/*.sql and extensions/*/migrations/*.sql by embed.cmake; do not edit.\n#include \"fila/migrations/migrations.h\"\n\nnamespace fila {\n\nconst std::vector<Migration>& Migrations() {\n  static const std::vector<Migration> kAll{\n${body}  };\n  return kAll;\n}\n\n}  // namespace fila\n")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
