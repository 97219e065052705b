DROP TABLE IF EXISTS nfe_documents;
