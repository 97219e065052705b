// fila-extract: the text of one untrusted document, in a process of its
// own. fila-worker runs it per HTML or PDF document under memory and CPU
// limits (fila/extract/sandbox.h), so that a document that crashes or
// blows up a parser costs this process, never the worker. By hand:
//   fila-extract document --type=text/html < page.html > result
//   fila-extract diario-pdf --max-pdf-pages=100 < gazette.pdf > result
// The commands are the parsers of the extensions that read untrusted
// documents, one line each: this program links those parsers and nothing
// else of the extensions (no libcurl, no libpq in the process that reads
// hostile input), so it keeps its own list.
#include "fila/diario/pdf_text.h"
#include "fila/document/extract.h"
#include "fila/extract/tool.h"

int main(int argc, char** argv) {
  return fila::extract::ToolMain(argc, argv,
                                 {{"document", &fila::document::ExtractCommand},
                                  {"diario-pdf", &fila::diario::PdfTextCommand}});
}
