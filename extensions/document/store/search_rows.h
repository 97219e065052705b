#pragma once

// One search hit from a row of the search statements of both rankings
// (document_store_pg.cpp: vector, text_index_pg.cpp: full text), whose
// columns are: score, tenant, owner, document_id, title, source, ordinal,
// start_offset, end_offset, page, heading_path, text.

#include <pqxx/pqxx>

#include "fila/document/document_store_pg.h"

namespace fila::document {

inline SearchHit SearchHitOf(const pqxx::row& row) {
  SearchHit h;
  h.score = row[0].is_null() ? 0.0 : row[0].as<double>();
  h.tenant = row[1].as<std::string>();
  h.owner = row[2].as<std::string>();
  h.document_id = row[3].as<std::string>();
  h.title = row[4].as<std::string>();
  h.source = row[5].as<std::string>();
  h.ordinal = row[6].as<int>();
  h.start = row[7].as<size_t>();
  h.end = row[8].as<size_t>();
  h.page = row[9].as<int>();
  h.heading_path = row[10].as<std::string>();
  h.text = row[11].as<std::string>();
  return h;
}

}  // namespace fila::document
